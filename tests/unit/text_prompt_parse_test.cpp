// The prompt parser: designers' free-form prompts and the label template read into the attributes a user meant,
// unknown words listed, and any input handled without a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "text/caption.h"
#include "text/prompt_parse.h"

namespace {
using namespace couture;

using Attributes = std::map<std::string, std::string>;  // list attributes joined with ","

// The attributes the prompt names (those the lexicon assumed are tested on their own below).
Attributes attributes_of(const ParsedPrompt& p) {
  Attributes out;
  for (const auto& a : p.garment.attributes) {
    if (std::find(p.assumed.begin(), p.assumed.end(), a.name) != p.assumed.end()) continue;
    std::string v;
    for (const auto& x : a.values) v += (v.empty() ? "" : ",") + x;
    out[a.name] = v;
  }
  return out;
}

struct Case {
  std::string prompt, part;
  Attributes attributes;
  std::vector<std::string> unrecognized = {};
};

TEST(TextPromptParse, DesignerPrompts) {
  const std::vector<Case> cases = {
      {"빨간 줄무늬 티셔츠", "상의", {{"색상", "레드"}, {"프린트", "스트라이프"}, {"카테고리", "티셔츠"}}},
      {"남색 셔츠", "상의", {{"색상", "네이비"}, {"카테고리", "셔츠"}}},
      {"노란 땡땡이 원피스", "원피스", {{"색상", "옐로우"}, {"프린트", "도트"}, {"카테고리", "드레스"}}},
      {"블랙 코트, 체크 패턴", "아우터", {{"색상", "블랙"}, {"카테고리", "코트"}, {"프린트", "체크"}}},
      {"네이비 바탕에 레드 줄무늬 셔츠", "상의",
       {{"색상", "네이비"}, {"서브색상", "레드"}, {"프린트", "스트라이프"}, {"카테고리", "셔츠"}}},
      {"하늘색 스트라이프 반팔 티", "상의",
       {{"색상", "스카이블루"}, {"프린트", "스트라이프"}, {"소매기장", "반팔"}, {"카테고리", "티셔츠"}}},
      {"흰색 바탕에 검정 도트 블라우스", "상의",
       {{"색상", "화이트"}, {"서브색상", "블랙"}, {"프린트", "도트"}, {"카테고리", "블라우스"}}},
      {"곤색 슬랙스", "하의", {{"색상", "네이비"}, {"카테고리", "팬츠"}}},
      {"회색 니트", "상의", {{"색상", "그레이"}, {"카테고리", "니트웨어"}}},
      {"베이지 트렌치코트", "아우터", {{"색상", "베이지"}, {"카테고리", "코트"}}},
      {"카키색 야상 점퍼", "아우터", {{"색상", "카키"}, {"카테고리", "점퍼"}}, {"야상"}},
      {"청바지", "하의", {{"카테고리", "청바지"}}},
      {"민트색 체크무늬 스커트", "하의", {{"색상", "민트"}, {"프린트", "체크"}, {"카테고리", "스커트"}}},
      {"오버핏 긴팔 후드티", "상의", {{"핏", "오버사이즈"}, {"소매기장", "긴팔"}, {"카테고리", "후드티"}}},
      {"반팔티셔츠", "상의", {{"소매기장", "반팔"}, {"카테고리", "티셔츠"}}},
      {"빨간줄무늬티", "상의", {{"색상", "레드"}, {"프린트", "스트라이프"}, {"카테고리", "티셔츠"}}},
      {"라벤더 플리츠 롱스커트", "하의",
       {{"색상", "라벤더"}, {"디테일", "플리츠"}, {"기장", "롱"}, {"카테고리", "스커트"}}},
      {"와인색 벨벳 원피스", "원피스", {{"색상", "와인"}, {"소재", "벨벳"}, {"카테고리", "드레스"}}},
      {"니트 원피스", "원피스", {{"소재", "니트"}, {"카테고리", "드레스"}}},  // the head noun is the garment
      {"패딩 조끼", "아우터", {{"소재", "패딩"}, {"카테고리", "베스트"}}},
      {"스카이 블루 셔츠", "상의", {{"색상", "스카이블루"}, {"카테고리", "셔츠"}}},
      {"레드와 네이비 스트라이프 티셔츠", "상의",
       {{"색상", "레드"}, {"서브색상", "네이비"}, {"프린트", "스트라이프"}, {"카테고리", "티셔츠"}}},
      {"레드 줄무늬 네이비 셔츠", "상의",
       {{"색상", "네이비"}, {"서브색상", "레드"}, {"프린트", "스트라이프"}, {"카테고리", "셔츠"}}},
      {"나시 원피스", "원피스", {{"소매기장", "민소매"}, {"카테고리", "드레스"}}},
      {"Navy shirt", "상의", {{"색상", "네이비"}, {"카테고리", "셔츠"}}},
      {"색상은 레드, 카테고리는 티셔츠", "상의", {{"색상", "레드"}, {"카테고리", "티셔츠"}}},
      {"검은색 가죽 자켓", "아우터", {{"색상", "블랙"}, {"소재", "가죽"}, {"카테고리", "재킷"}}},
      {"레깅스", "하의", {{"카테고리", "래깅스"}}},
      {"노멀 핏 청바지", "하의", {{"핏", "노멀"}, {"카테고리", "청바지"}}},
      {"하의: 와이드 팬츠", "하의", {{"핏", "와이드"}, {"카테고리", "팬츠"}}},
      {"데일리로 입기 좋은 핑크 가디건", "아우터", {{"색상", "핑크"}, {"카테고리", "가디건"}}},
      {"빨간색 티셔츠 만들어 주세요", "상의", {{"색상", "레드"}, {"카테고리", "티셔츠"}}},
      {"물방울무늬 블라우스", "상의", {{"프린트", "도트"}, {"카테고리", "블라우스"}}},
      {"격자무늬 남방", "상의", {{"프린트", "체크"}, {"카테고리", "셔츠"}}},
      {"무지 흰 티", "상의", {{"프린트", "무지"}, {"색상", "화이트"}, {"카테고리", "티셔츠"}}},
      {"크롭 기장의 핑크 니트", "상의", {{"기장", "크롭"}, {"색상", "핑크"}, {"카테고리", "니트웨어"}}},
      {"블랙 코트에 레드 포인트", "아우터", {{"색상", "블랙"}, {"서브색상", "레드"}, {"카테고리", "코트"}}},
      {"줄무늬가 들어간 빨간색 반팔 티셔츠입니다.", "상의",
       {{"색상", "레드"}, {"프린트", "스트라이프"}, {"소매기장", "반팔"}, {"카테고리", "티셔츠"}}},
      {"올리브 색상의 소매 없는 바지", "하의", {{"색상", "카키"}, {"소매기장", "없음"}, {"카테고리", "팬츠"}}},
      {"peter pan collar 블라우스", "상의", {{"칼라", "피터팬칼라"}, {"카테고리", "블라우스"}}},
      {"울/캐시미어 코트", "아우터", {{"소재", "울/캐시미어"}, {"카테고리", "코트"}}},
      {"빨간 쫄쫄이 티셔츠", "상의", {{"색상", "레드"}, {"카테고리", "티셔츠"}}, {"쫄쫄이"}},
      {"줄무늬", "", {{"프린트", "스트라이프"}}},
  };
  for (const auto& c : cases) {
    const ParsedPrompt p = parse_prompt(c.prompt);
    EXPECT_EQ(attributes_of(p), c.attributes) << c.prompt << "\n" << p.to_json().dump();
    EXPECT_EQ(p.garment.name, c.part) << c.prompt;
    EXPECT_EQ(p.unrecognized, c.unrecognized) << c.prompt;
  }
}

TEST(TextPromptParse, FillersAndSecondGarmentsAreUnderstoodButIgnored) {
  ParsedPrompt p = parse_prompt("데일리로 입기 좋은 핑크 가디건");
  EXPECT_EQ(p.ignored, std::vector<std::string>{"데일리로 입기 좋은"});
  EXPECT_TRUE(p.unrecognized.empty());
  p = parse_prompt("상의는 흰 셔츠, 하의는 검은 바지");  // one garment per prompt: the first part named
  EXPECT_EQ(p.garment.name, "상의");
  EXPECT_EQ(attributes_of(p), (Attributes{{"색상", "화이트"}, {"카테고리", "셔츠"}}));
  EXPECT_EQ(p.ignored, (std::vector<std::string>{"검은", "바지"}));
}

TEST(TextPromptParse, TemplateCaptionsParseCompletely) {
  const std::string fmnist =
      "상의에서 색상은 레드이다. 상의에서 서브색상은 네이비이다. 상의에서 카테고리는 티셔츠이다. "
      "상의에서 프린트에는 스트라이프이다.";
  const ParsedPrompt p = parse_prompt(fmnist);
  EXPECT_EQ(p.garment.name, "상의");
  EXPECT_EQ(attributes_of(p),
            (Attributes{{"색상", "레드"}, {"서브색상", "네이비"}, {"카테고리", "티셔츠"}, {"프린트", "스트라이프"}}));
  EXPECT_TRUE(p.unrecognized.empty() && p.ignored.empty());

  // Every value of every attribute, in its template sentence, reads back as itself (ambiguous words included:
  // "핏은 노멀이다" is a 핏, "소재에는 패딩이다" a 소재, "넥라인은 후드이다" a 넥라인).
  const Lexicon& lex = default_lexicon();
  for (const std::string& attribute : lex.attributes()) {
    for (const auto& value : kfashion::known_values(attribute)) {
      if (value == "기타") continue;
      const kfashion::Attribute a{attribute, {value}, kfashion::is_list_attribute(attribute)};
      const std::string sentence = kfashion::attribute_sentence("상의", a, kfashion::CaptionCompat::couture);
      const ParsedPrompt q = parse_prompt(sentence);
      EXPECT_EQ(q.value(attribute), lex.canonical(attribute, value)) << sentence << "\n" << q.to_json().dump();
      EXPECT_TRUE(q.unrecognized.empty()) << sentence;
    }
  }
}

// prompt_as "understood": the models read the template caption of what was understood.
TEST(TextPromptParse, UnderstoodCaptionIsTheLabelTemplate) {
  EXPECT_EQ(understood_caption(parse_prompt("빨간 줄무늬 티셔츠")),
            "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다. 상의에서 프린트에는 스트라이프이다.");
  EXPECT_EQ(understood_caption(parse_prompt("네이비 바탕에 흰 줄무늬가 들어간 티")),
            "상의에서 색상은 네이비이다. 상의에서 서브색상은 화이트이다. 상의에서 카테고리는 티셔츠이다. "
            "상의에서 프린트에는 스트라이프이다.");
  // A garment with no print named is plain, as the parser assumes and the training captions say.
  EXPECT_EQ(understood_caption(parse_prompt("곤색 코트")),
            "아우터에서 색상은 네이비이다. 아우터에서 카테고리는 코트이다. 아우터에서 프린트에는 무지이다.");
  // A template caption gives itself back, so template prompts read exactly as before.
  const std::string fmnist =
      "하의에서 색상은 스카이블루이다. 하의에서 서브색상은 퍼플이다. 하의에서 카테고리는 팬츠이다. "
      "하의에서 프린트에는 도트이다.";
  EXPECT_EQ(understood_caption(parse_prompt(fmnist)), fmnist);
  // Only the attributes the models learnt (a bundle's attribute_values), the sub-colour with the colour.
  const ParsedPrompt sleeve = parse_prompt("네이비 바탕에 흰 줄무늬가 들어간 반팔티");
  EXPECT_NE(understood_caption(sleeve).find("소매기장은 반팔"), std::string::npos);
  EXPECT_EQ(understood_caption(sleeve, {"카테고리", "색상", "프린트"}),
            "상의에서 색상은 네이비이다. 상의에서 서브색상은 화이트이다. 상의에서 카테고리는 티셔츠이다. "
            "상의에서 프린트에는 스트라이프이다.");
  EXPECT_EQ(understood_caption(parse_prompt("반팔"), {"카테고리", "색상", "프린트"}), "");
    // No garment understood: nothing to write (the generator then reads the prompt as typed).
  EXPECT_EQ(understood_caption(parse_prompt("빨간색")), "");
  EXPECT_EQ(understood_caption(parse_prompt("hello 😀")), "");
}

TEST(TextPromptParse, AWholeOutfitTemplateKeepsTheFirstPart) {
  const std::string caption =
      "아우터에서 기장은 노말이다. 아우터에서 색상은 화이트이다. 아우터에서 서브색상은 민트이다. "
      "아우터에서 카테고리는 재킷이다. 아우터에서 소매기장은 긴팔이다. 아우터에서 소재에는 트위드이다. "
      "아우터에서 프린트에는 체크이다. 아우터에서 넥라인은 라운드넥이다. 아우터에서 핏은 노멀이다. "
      "원피스에서 카테고리는 드레스이다. 원피스에서 디테일에는 단추이다. 원피스에서 소재에는 니트, 울이다.";
  const ParsedPrompt p = parse_prompt(caption);
  EXPECT_EQ(p.garment.name, "아우터");
  EXPECT_EQ(attributes_of(p), (Attributes{{"기장", "노멀"},
                                          {"색상", "화이트"},
                                          {"서브색상", "민트"},
                                          {"카테고리", "재킷"},
                                          {"소매기장", "긴팔"},
                                          {"소재", "트위드"},
                                          {"프린트", "체크"},
                                          {"넥라인", "라운드넥"},
                                          {"핏", "노멀"}}));
  EXPECT_TRUE(p.unrecognized.empty());
  EXPECT_EQ(p.ignored.size(), 4u);  // 드레스, 단추, 니트, 울
  EXPECT_EQ(attributes_of(parse_prompt("상의에서 소재에는 니트, 울이다.")), (Attributes{{"소재", "니트,울/캐시미어"}}));
}

TEST(TextPromptParse, NothingRecognisedIsNotAnError) {
  const ParsedPrompt p = parse_prompt("안녕하세요 반갑습니다");
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.garment.name, "");
  EXPECT_EQ(p.unrecognized, (std::vector<std::string>{"안녕하세요", "반갑습니다"}));
  EXPECT_EQ(parse_prompt("hello world").unrecognized, (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(parse_prompt("😀😀 티셔츠😀").unrecognized, (std::vector<std::string>{"😀😀", "😀"}));
  EXPECT_EQ(parse_prompt("😀😀 티셔츠😀").value("카테고리"), "티셔츠");
}

TEST(TextPromptParse, ToJsonForTheServer) {
  const auto j = parse_prompt("빨간 줄무늬 티셔츠 느낌쓰").to_json();
  EXPECT_EQ(j.dump(), R"({"part":"상의","attributes":{"색상":"레드","카테고리":"티셔츠","프린트":["스트라이프"]},)"
                      R"("assumed":[],"unrecognized":["느낌쓰"],"ignored":[]})");
  EXPECT_EQ(parse_prompt("").to_json().dump(),
            R"({"part":null,"attributes":{},"assumed":[],"unrecognized":[],"ignored":[]})");
  EXPECT_EQ(parse_prompt("남색 셔츠").to_json().dump(),
            R"({"part":"상의","attributes":{"색상":"네이비","카테고리":"셔츠","프린트":["무지"]},)"
            R"("assumed":["프린트"],"unrecognized":[],"ignored":[]})");
}

// A garment named without a print is a plain one (the lexicon's "assumed"), as the labels and the training
// captions have it; a named print, a second colour (the colour of a print) or no garment at all assume nothing.
TEST(TextPromptParse, AnUnnamedPrintIsPlain) {
  for (const char* prompt : {"남색 셔츠", "카키색 바지", "데일리로 입기 좋은 베이지 니트", "원피스", "빨간색"}) {
    const ParsedPrompt p = parse_prompt(prompt);
    EXPECT_EQ(p.value("프린트"), "무지") << prompt;
    EXPECT_EQ(p.assumed, std::vector<std::string>{"프린트"}) << prompt;
  }
  for (const char* prompt : {"빨간 줄무늬 티셔츠", "무지 흰 티", "블랙 코트에 레드 포인트", "", "안녕하세요", "😀"})
    EXPECT_TRUE(parse_prompt(prompt).assumed.empty()) << prompt;
  EXPECT_EQ(parse_prompt("빨간 줄무늬 티셔츠").value("프린트"), "스트라이프");
  EXPECT_EQ(parse_prompt("블랙 코트에 레드 포인트").value("프린트"), "");
  // A lexicon without "assumed" assumes nothing.
  const Lexicon plain = Lexicon::from_json(
      R"({"format": "couture-lexicon", "version": 1, "attributes": {"색상": {"네이비": ["남색"]},
          "카테고리": {"셔츠": ["남방"]}, "프린트": {"무지": ["민무늬"]}}})",
      "own");
  const ParsedPrompt own = parse_prompt("남색 셔츠", plain);
  EXPECT_EQ(own.value("프린트"), "");
  EXPECT_TRUE(own.assumed.empty());
}

TEST(TextPromptParse, AnyInputWithoutACrash) {
  std::string long_text;
  while (long_text.size() < 900) long_text += "빨간 a😀,. ";  // 300 characters and more
  for (const std::string& text : {std::string(), std::string("   "), std::string("!!!,,,..."), std::string("abc XYZ"),
                                  std::string("😀🎉👗"), std::string("\t\n\r"), std::string("a\0b", 3), long_text,
                                  std::string("\u200b티셔츠\u0007"), std::string("...티셔츠!!!"), std::string(":")})
    EXPECT_NO_THROW(parse_prompt(text)) << text;
  EXPECT_EQ(parse_prompt(long_text).value("색상"), "레드");

  // Random mixtures of lexicon words, particles, syllables, punctuation and symbols.
  const std::vector<std::string> pieces = {"빨간", "줄무늬", "티셔츠", "에서", "은", "색상", "바탕", "스카이",
                                           "블루", " ", " ", ",", ".", ":", "/", "-", "😀", "a", "가", "힝", "원피스",
                                           "니트", "상의", "서브색상", "무늬", "없는", "7부", "\u1100\u1161", "이다",
                                           "의"};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (size_t n = rng() % 24; n > 0; --n) text += pieces[rng() % pieces.size()];
    EXPECT_NO_THROW(parse_prompt(text)) << text;
  }
}

TEST(TextPromptParse, RefusesInvalidUtf8AndHugeText) {
  try {
    parse_prompt("빨간 \xff\xfe 티셔츠");
    ADD_FAILURE() << "accepted invalid UTF-8";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_prompt("\xed\xa0\x80"), InputError);  // a lone surrogate
  EXPECT_THROW(parse_prompt(std::string(kMaxPromptBytes + 1, 'a')), InputError);
}

}  // namespace
