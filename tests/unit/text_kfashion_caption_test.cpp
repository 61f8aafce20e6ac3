// Captions from K-Fashion labels: the exact sentences DESIGN.md's template gives, in both caption modes.
#include "text/caption.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/golden.h"

using namespace couture::kfashion;

namespace {

// The label of ../shared/testdata/kfashion/example.json (a white tweed jacket over a dress, style 로맨틱).
const char* kExample = R"({
 "이미지 정보": {"이미지 식별자": 1, "이미지 높이": 700, "이미지 파일명": "example.jpg", "이미지 너비": 800},
 "데이터셋 정보": {"파일 생성일자": "2020-12-22 12:00:00", "데이터셋 상세설명": {
   "렉트좌표": {"아우터": [{"X좌표": 202.5, "Y좌표": 68.5, "가로": 416, "세로": 476}], "하의": [{}],
               "원피스": [{"X좌표": 265.5, "Y좌표": 73.5, "가로": 252, "세로": 525}], "상의": [{}]},
   "폴리곤좌표": {},
   "라벨링": {
     "스타일": [{"스타일": "로맨틱"}],
     "아우터": [{"기장": "노말", "색상": "화이트", "서브색상": "민트", "카테고리": "재킷", "소매기장": "긴팔",
                "소재": ["트위드"], "프린트": ["체크"], "넥라인": "라운드넥", "핏": "노멀"}],
     "하의": [{}],
     "원피스": [{"카테고리": "드레스", "디테일": ["단추"], "소재": ["우븐"], "프린트": ["무지"], "넥라인": "브이넥",
                "핏": "노멀"}],
     "상의": [{}]}},
   "파일 번호": 1, "파일 이름": "example.json"}})";

const char* kExampleCaption =
    "아우터에서 기장은 노말이다. 아우터에서 색상은 화이트이다. 아우터에서 서브색상은 민트이다. "
    "아우터에서 카테고리는 재킷이다. 아우터에서 소매기장은 긴팔이다. 아우터에서 소재에는 트위드이다. "
    "아우터에서 프린트에는 체크이다. 아우터에서 넥라인은 라운드넥이다. 아우터에서 핏은 노멀이다. "
    "원피스에서 카테고리는 드레스이다. 원피스에서 디테일에는 단추이다. 원피스에서 소재에는 우븐이다. "
    "원피스에서 프린트에는 무지이다. 원피스에서 넥라인은 브이넥이다. 원피스에서 핏은 노멀이다.";

// A 상의 with several list values, in a key order of its own.
const char* kKnit = R"({"데이터셋 정보": {"데이터셋 상세설명": {"라벨링": {
  "상의": [{"소재": ["니트", "울"], "카테고리": "니트웨어", "디테일": ["단추", "리본", "포켓"], "색상": "그레이"}],
  "스타일": [{"스타일": "모던", "서브스타일": "클래식"}],
  "하의": [{"색상": "블랙"}]}}}})";

}  // namespace

TEST(KFashionCaption, ExampleGivesTheExactDefaultCaption) {
  Label label = parse_label(kExample);
  EXPECT_EQ(full_caption(label, {}), kExampleCaption);
  EXPECT_EQ(short_caption(label), "스타일은 로맨틱이다. 아우터는 화이트 색상의 재킷이다. 원피스는 드레스이다.");
}

TEST(KFashionCaption, ExampleWithStyleStartsWithTheStyleSentence) {
  CaptionOptions options;
  options.keep_style = true;
  EXPECT_EQ(full_caption(parse_label(kExample), options), std::string("스타일에서 스타일은 로맨틱이다. ") + kExampleCaption);
}

TEST(KFashionCaption, KodalleModeGivesTheSameForSingleValues) {
  CaptionOptions options;
  options.compat = CaptionCompat::kodalle;
  EXPECT_EQ(full_caption(parse_label(kExample), options), kExampleCaption);
}

TEST(KFashionCaption, ListValuesJoinedByDefaultAndLastOnlyInKodalleMode) {
  Label label = parse_label(kKnit);
  // The file's own key order: 상의 first, its attributes as written; style silent; 하의 with its colour.
  EXPECT_EQ(full_caption(label, {}),
            "상의에서 소재에는 니트, 울이다. 상의에서 카테고리는 니트웨어이다. 상의에서 디테일에는 단추, 리본, 포켓이다. "
            "상의에서 색상은 그레이이다. 하의에서 색상은 블랙이다.");
  CaptionOptions kodalle;
  kodalle.compat = CaptionCompat::kodalle;
  EXPECT_EQ(full_caption(label, kodalle),
            "상의에서 소재에는 울이다. 상의에서 카테고리는 니트웨어이다. 상의에서 디테일에는 포켓이다. "
            "상의에서 색상은 그레이이다. 하의에서 색상은 블랙이다.");
  CaptionOptions style;
  style.keep_style = true;
  EXPECT_NE(full_caption(label, style).find("상의에서 색상은 그레이이다. 스타일에서 스타일은 모던이다. "
                                           "스타일에서 서브스타일은 클래식이다. 하의에서"),
            std::string::npos);
  EXPECT_EQ(short_caption(label), "상의는 그레이 색상의 니트웨어이다. 스타일은 모던이다. 하의는 블랙 색상이다.");
}

TEST(KFashionCaption, OnlyTheNamedPartsForPartCrops) {
  Label label = parse_label(kExample);
  EXPECT_EQ(full_caption(label, {}, {"원피스"}),
            "원피스에서 카테고리는 드레스이다. 원피스에서 디테일에는 단추이다. 원피스에서 소재에는 우븐이다. "
            "원피스에서 프린트에는 무지이다. 원피스에서 넥라인은 브이넥이다. 원피스에서 핏은 노멀이다.");
  EXPECT_EQ(short_caption(label, {"아우터"}), "아우터는 화이트 색상의 재킷이다.");
}

TEST(KFashionCaption, ParticleFollowsTheFinalConsonant) {
  EXPECT_TRUE(has_final_consonant("기장"));    // ㅇ
  EXPECT_TRUE(has_final_consonant("핏"));      // ㅅ
  EXPECT_TRUE(has_final_consonant("스타일"));  // ㄹ
  EXPECT_FALSE(has_final_consonant("카테고리"));
  EXPECT_FALSE(has_final_consonant("칼라"));
  EXPECT_FALSE(has_final_consonant("아우터"));
  EXPECT_STREQ(topic_particle("PVC"), "는");  // not Hangul
  EXPECT_STREQ(topic_particle(""), "는");
  EXPECT_STREQ(topic_particle("가"), "는");  // U+AC00, the first syllable
  EXPECT_STREQ(topic_particle("힣"), "은");  // U+D7A3, the last (final ㅎ)
  EXPECT_EQ(attribute_sentence("상의", {"칼라", {"셔츠칼라"}, false}, CaptionCompat::couture),
            "상의에서 칼라는 셔츠칼라이다.");
  EXPECT_EQ(attribute_sentence("상의", {"옷깃", {"보우칼라"}, false}, CaptionCompat::couture),
            "상의에서 옷깃은 보우칼라이다.");
}

TEST(KFashionCaption, DecomposedHangulIsNormalisedBeforeTheParticle) {
  // "기장" in NFD (conjoining jamo) as a key: normalised to NFC, so the particle is still 은.
  std::string nfd_key = "\u1100\u1175\u110C\u1161\u11BC";
  std::string text = R"({"데이터셋 정보": {"데이터셋 상세설명": {"라벨링": {"상의": [{")" + nfd_key + R"(": "롱"}]}}}})";
  EXPECT_EQ(full_caption(parse_label(text), {}), "상의에서 기장은 롱이다.");
}

TEST(KFashionCaption, EmptyPartsAndEmptyValuesSayNothing) {
  Label label = parse_label(R"({"데이터셋 정보": {"데이터셋 상세설명": {"라벨링": {
      "스타일": [{}], "아우터": [{}], "하의": [{"색상": "", "디테일": []}], "원피스": [{}],
      "상의": [{"카테고리": " 셔츠 "}]}}}})");
  EXPECT_EQ(full_caption(label, {}), "상의에서 카테고리는 셔츠이다.");
  EXPECT_EQ(short_caption(label), "상의는 셔츠이다.");
}

TEST(KFashionCaption, SharedReferenceExample) {
  std::string dir = std::string(COUTURE_SHARED_TESTDATA) + "/kfashion/";
  std::ifstream label_file(dir + "example.json"), expected_file(dir + "expected.json");
  COUTURE_NEED_REFERENCE(label_file && expected_file, "shared test data not found at " << dir);
  std::stringstream bytes;
  bytes << label_file.rdbuf();
  auto expected = nlohmann::json::parse(expected_file);
  Label label = parse_label(bytes.str());
  EXPECT_EQ(full_caption(label, {}), expected["caption"].get<std::string>());
  EXPECT_EQ(short_caption(label), expected["short_form"].get<std::string>());
}
