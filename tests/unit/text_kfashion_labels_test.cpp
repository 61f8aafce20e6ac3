// K-Fashion label parsing: the ordered structure, rectangles and image info, and a reason for every bad file.
#include "text/kfashion_labels.h"

#include <gtest/gtest.h>

#include <random>

using namespace couture::kfashion;

namespace {

std::string wrap(const std::string& labelling, const std::string& rects = "{}") {
  return R"({"이미지 정보": {"이미지 식별자": 1070263, "이미지 파일명": "a.jpg", "이미지 너비": 800, "이미지 높이": 1049},
            "데이터셋 정보": {"데이터셋 상세설명": {"렉트좌표": )" +
         rects + R"(, "라벨링": )" + labelling + "}}}";
}

std::string reason_of(const std::string& bytes, ParseOptions options = {}) {
  try {
    parse_label(bytes, options);
  } catch (const LabelError& e) {
    return e.reason();
  }
  return "accepted";
}

}  // namespace

TEST(KFashionLabels, KeepsKeyOrderRectanglesAndImageInfo) {
  Label label = parse_label(wrap(R"({"하의": [{"색상": "베이지"}], "스타일": [{}], "상의": [{"핏": "루즈", "색상": "그레이"}]})",
                                 R"({"상의": [{"X좌표": 162.281, "Y좌표": 58.5, "가로": 469, "세로": 555}], "하의": [{}]})"));
  EXPECT_EQ(label.image_file, "a.jpg");
  EXPECT_EQ(label.image_id, "1070263");
  EXPECT_EQ(label.width, 800);
  EXPECT_EQ(label.height, 1049);
  ASSERT_EQ(label.parts.size(), 3u);
  EXPECT_EQ(label.parts[0].name, "하의");
  EXPECT_EQ(label.parts[1].name, "스타일");
  EXPECT_TRUE(label.parts[1].empty());
  const Part& top = label.parts[2];
  ASSERT_EQ(top.attributes.size(), 2u);
  EXPECT_EQ(top.attributes[0].name, "핏");
  EXPECT_EQ(top.attributes[1].name, "색상");
  ASSERT_TRUE(top.rect.has_value());
  EXPECT_DOUBLE_EQ(top.rect->x, 162.281);
  EXPECT_DOUBLE_EQ(top.rect->height, 555);
  EXPECT_FALSE(label.parts[0].rect.has_value());
}

TEST(KFashionLabels, ListAttributesAcceptASingleStringAndScalarsAList) {
  Label label = parse_label(wrap(R"({"상의": [{"소재": "니트", "색상": ["레드"], "디테일": ["단추", null, "  "]}]})"));
  const Part& top = label.parts[0];
  EXPECT_EQ(top.find("소재")->values, std::vector<std::string>{"니트"});
  EXPECT_TRUE(top.find("소재")->is_list);
  EXPECT_EQ(top.first_value("색상"), "레드");
  EXPECT_EQ(top.find("디테일")->values, std::vector<std::string>{"단추"});
}

TEST(KFashionLabels, EachBadFileGetsItsReason) {
  EXPECT_EQ(reason_of("{\"데이터셋 정보\": "), kMalformedJson);
  EXPECT_EQ(reason_of("[1, 2]"), kMalformedJson);
  EXPECT_EQ(reason_of(""), kMalformedJson);
  EXPECT_EQ(reason_of(std::string("{\"a\": \"\xB0\xA1\"}")), kNonUtf8);  // 가 in CP949
  EXPECT_EQ(reason_of(R"({"이미지 정보": {}})"), kMissingLabels);
  EXPECT_EQ(reason_of(R"({"데이터셋 정보": {"데이터셋 상세설명": {"라벨링": []}}})"), kMissingLabels);
  EXPECT_EQ(reason_of(wrap(R"({"가방": [{}]})")), kMissingLabels);
  EXPECT_EQ(reason_of(wrap(R"({"상의": [{"색상": 3}]})")), kMalformedLabel);
  EXPECT_EQ(reason_of(wrap(R"({"상의": "레드"})")), kMalformedLabel);
  EXPECT_EQ(reason_of(wrap(R"({"상의": [{"색상": "보라색"}]})")), kUnknownValue);
  EXPECT_EQ(reason_of(wrap(R"({"상의": [{"카테고리": "모자"}]})")), kUnknownValue);
  EXPECT_EQ(reason_of(wrap(R"({"상의": [{"프린트": ["무지", "물방울"]}]})")), kUnknownValue);
}

TEST(KFashionLabels, UnknownValuesCanBeKeptAndLenientOnesAreNoted) {
  ParseOptions keep;
  keep.keep_unknown_values = true;
  Label kept = parse_label(wrap(R"({"상의": [{"색상": "보라색"}]})"), keep);
  EXPECT_EQ(kept.parts[0].first_value("색상"), "보라색");
  EXPECT_EQ(kept.notes.size(), 1u);
  // 핏 and 디테일 are lenient: kept by default, with a note; unknown attributes and parts are ignored, noted.
  Label lenient = parse_label(wrap(R"({"상의": [{"핏": "기타", "무늬": "x"}], "가방": [{}]})"));
  EXPECT_EQ(lenient.parts[0].first_value("핏"), "기타");
  EXPECT_EQ(lenient.parts[0].find("무늬"), nullptr);
  EXPECT_EQ(lenient.notes.size(), 3u);
}

TEST(KFashionLabels, ByteOrderMarkAndNumericStringsInRectangles) {
  Label label = parse_label("\xEF\xBB\xBF" + wrap(R"({"상의": [{"색상": "레드"}]})",
                                                   R"({"상의": [{"X좌표": "10.5", "Y좌표": 2, "가로": "x", "세로": 3}]})"));
  EXPECT_FALSE(label.parts[0].rect.has_value());  // "x" is not a number: no rectangle, a note
  EXPECT_EQ(label.notes.size(), 1u);
}

TEST(KFashionLabels, RandomCorruptionsNeverEscapeAsAnythingButLabelError) {
  std::string good = wrap(R"({"스타일": [{"스타일": "로맨틱"}], "상의": [{"색상": "레드", "소재": ["니트", "울"]}]})",
                          R"({"상의": [{"X좌표": 1, "Y좌표": 2, "가로": 3, "세로": 4}]})");
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good;
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0: bytes[at] = char(rng()); break;
        case 1: bytes.erase(at, 1 + rng() % 8); break;
        default: bytes.insert(at, 1, "{}[]\",:0\xEA"[rng() % 10]);
      }
    }
    try {
      parse_label(bytes);
      ++accepted;
    } catch (const LabelError&) {
    }
  }
  EXPECT_GT(accepted, 0);
}
