// The domain lexicon: the default one covers every K-Fashion colour, category and print with the words designers
// write, and a broken lexicon file is refused with one message naming the file and the offending word or value.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "text/kfashion_labels.h"
#include "text/lexicon.h"

namespace {
using namespace couture;

// The (attribute, value) a word means, or "" when it means none or several.
std::string meaning(const std::string& word, const std::string& attribute) {
  const LexiconEntry* e = default_lexicon().lookup(word);
  if (!e) return "";
  for (const auto& m : e->matches)
    if (m.attribute == attribute) return m.value;
  return "";
}

TEST(TextLexicon, DefaultLoadsWithEveryGarmentAttribute) {
  const Lexicon& lex = default_lexicon();
  for (const char* a :
       {"색상", "카테고리", "프린트", "기장", "소매기장", "소재", "디테일", "넥라인", "칼라", "핏", "스타일"})
    EXPECT_FALSE(lex.values(a).empty()) << a;
  EXPECT_FALSE(lex.fillers().empty());
}

TEST(TextLexicon, EveryColourCategoryAndPrintLabelHasAtLeastTwoWords) {
  const Lexicon& lex = default_lexicon();
  for (const char* attribute : {"색상", "카테고리", "프린트"}) {
    for (const auto& value : kfashion::known_values(attribute)) {
      EXPECT_GE(lex.words(attribute, value).size(), 2u) << attribute << " " << value;
    }
  }
  EXPECT_EQ(lex.words("서브색상", "레드"), lex.words("색상", "레드"));
}

TEST(TextLexicon, EveryKnownLabelReadsAsItsOwnValue) {
  const Lexicon& lex = default_lexicon();
  for (const std::string& attribute : lex.attributes()) {
    for (const auto& value : kfashion::known_values(attribute)) {
      if (value == "기타") continue;  // 스타일 기타 ("other") has no words
      EXPECT_EQ(meaning(value, attribute), lex.canonical(attribute, value)) << attribute << " " << value;
    }
  }
}

TEST(TextLexicon, TheWordsDesignersWrite) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"빨간", "색상", "레드"},          {"빨강", "색상", "레드"},         {"빨간색", "색상", "레드"},
      {"붉은", "색상", "레드"},          {"남색", "색상", "네이비"},       {"곤색", "색상", "네이비"},
      {"하늘색", "색상", "스카이블루"},  {"노란", "색상", "옐로우"},       {"노랑", "색상", "옐로우"},
      {"옐로", "색상", "옐로우"},        {"검정", "색상", "블랙"},         {"흰색", "색상", "화이트"},
      {"줄무늬", "프린트", "스트라이프"}, {"줄", "프린트", "스트라이프"},  {"땡땡이", "프린트", "도트"},
      {"물방울", "프린트", "도트"},      {"물방울무늬", "프린트", "도트"}, {"격자무늬", "프린트", "체크"},
      {"타탄", "프린트", "체크"},        {"민무늬", "프린트", "무지"},     {"단색", "프린트", "무지"},
      {"바지", "카테고리", "팬츠"},      {"슬랙스", "카테고리", "팬츠"},   {"원피스", "카테고리", "드레스"},
      {"스웨터", "카테고리", "니트웨어"}, {"티", "카테고리", "티셔츠"},    {"남방", "카테고리", "셔츠"},
      {"와이셔츠", "카테고리", "셔츠"},  {"진", "카테고리", "청바지"},     {"데님팬츠", "카테고리", "청바지"},
      {"잠바", "카테고리", "점퍼"},      {"오버핏", "핏", "오버사이즈"},   {"반소매", "소매기장", "반팔"},
      {"긴소매", "소매기장", "긴팔"},    {"나시", "소매기장", "민소매"},
  };
  for (const auto& [word, attribute, value] : cases) EXPECT_EQ(meaning(word, attribute), value) << word;
}

TEST(TextLexicon, KeysIgnoreCaseSpacesAndDecomposedHangul) {
  EXPECT_EQ(meaning("Navy", "색상"), "네이비");
  EXPECT_EQ(meaning("스카이 블루", "색상"), "스카이블루");
  EXPECT_EQ(meaning("\u1108\u1161\u11AF\u1100\u1161\u11AB", "색상"), "레드");  // 빨간 in NFD
  EXPECT_EQ(lexicon_key(" Sky  Blue "), "skyblue");
}

TEST(TextLexicon, SpellingVariantsShareTheirValueAndWords) {
  const Lexicon& lex = default_lexicon();
  EXPECT_EQ(lex.canonical("카테고리", "레깅스"), "래깅스");
  EXPECT_EQ(lex.canonical("카테고리", "자켓"), "재킷");
  EXPECT_EQ(lex.canonical("기장", "노말"), "노멀");
  EXPECT_EQ(lex.canonical("색상", "레드"), "레드");
  EXPECT_EQ(lex.words("카테고리", "자켓"), lex.words("카테고리", "재킷"));
  EXPECT_EQ(meaning("하운즈 투스", "프린트"), meaning("하운즈투스", "프린트"));
}

TEST(TextLexicon, EveryCategoryHasItsPart) {
  const Lexicon& lex = default_lexicon();
  for (const auto& category : kfashion::known_values("카테고리"))
    EXPECT_FALSE(lex.part_of(category).empty()) << category;
  EXPECT_EQ(lex.part_of("티셔츠"), "상의");
  EXPECT_EQ(lex.part_of("니트웨어"), "상의");
  EXPECT_EQ(lex.part_of("팬츠"), "하의");
  EXPECT_EQ(lex.part_of("코트"), "아우터");
  EXPECT_EQ(lex.part_of("자켓"), "아우터");
  EXPECT_EQ(lex.part_of("드레스"), "원피스");
  EXPECT_EQ(lex.lookup("윗옷")->part, "상의");
}

TEST(TextLexicon, FillersCarryNoAttributeAndModifiersAreWords) {
  const Lexicon& lex = default_lexicon();
  for (const auto& f : lex.fillers()) {
    const LexiconEntry* e = lex.lookup(f);
    ASSERT_TRUE(e) << f;
    EXPECT_TRUE(e->filler && e->matches.empty() && e->part.empty()) << f;
  }
  EXPECT_TRUE(lex.is_modifier("빨간"));
  EXPECT_FALSE(lex.is_modifier("빨강"));
}

// ---- refusals ----

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string minimal(const std::string& attributes, const std::string& extra = "") {
  return R"({"format": "couture-lexicon", "version": 1, "attributes": {)" + attributes + "}" + extra + "}";
}

// Loading the text as a file fails with a message naming the file and every expected fragment.
void expect_refused(const std::string& text, const std::vector<std::string>& fragments) {
  const std::string path = write_file("lexicon_test.json", text);
  try {
    Lexicon::load(path);
    ADD_FAILURE() << "accepted: " << text;
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message << "\nmissing: " << f;
  }
}

TEST(TextLexicon, RefusesBrokenFilesNamingTheProblem) {
  expect_refused("{\"format\": ", {"not JSON"});
  expect_refused("[1, 2]", {"top level"});
  expect_refused(R"({"format": "vocab", "version": 1})", {"format", "couture-lexicon"});
  expect_refused(R"({"format": "couture-lexicon", "version": 2})", {"version 2"});
  expect_refused(R"({"format": "couture-lexicon", "version": 1, "colours": {}})", {"unknown key 'colours'"});
  expect_refused(minimal(R"("색깔": {"레드": ["빨강"]})"), {"unknown attribute '색깔'"});
  expect_refused(minimal(R"("서브색상": {"레드": ["빨강"]})"), {"서브색상", "색상"});
  expect_refused(minimal(R"("색상": {"빨강": ["빨간"]})"), {"색상", "no value '빨강'"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강", "레드색", "빨강"]})"), {"'빨강'", "twice", "레드"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강"], "와인": ["Burgundy", "빨강"]})"),
                 {"'빨강'", "레드", "와인", "ambiguous"});
  expect_refused(minimal(R"("색상": {"레드": ["red"], "와인": ["RED"]})"), {"RED", "ambiguous"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강"], "와인": ["레드"]})"), {"'레드'", "label", "ambiguous"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강"], "레드": ["빨간"]})"), {"'레드' appears twice", "색상"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강", "  "]})"), {"색상 '레드'", "empty word"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강", 3]})"), {"색상 '레드'", "number"});
  expect_refused(minimal(R"("색상": {"레드": "빨강"})"), {"'빨강'", "not a value"});
  expect_refused(minimal(R"("카테고리": {"티셔츠": ["티"]})", R"(, "parts": {"상의": {"categories": ["티셔츠"]},
                 "하의": {"categories": ["티셔츠"]}})"),
                 {"티셔츠", "상의", "하의"});
  expect_refused(minimal(R"("카테고리": {"티셔츠": ["티"]})", R"(, "parts": {"목도리": {}})"),
                 {"unknown part '목도리'"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강"]})", R"(, "fillers": ["예쁜", "빨강"])"),
                 {"filler '빨강'", "레드"});
  expect_refused(minimal(R"("색상": {"레드": ["빨강"]})", R"(, "modifiers": ["예쁜"])"), {"modifier '예쁜'"});
  expect_refused(minimal(R"("색상": {"레드": ["a b c d e"]})"), {"more than 4 parts"});
  expect_refused(minimal(R"("프린트": {"무지": ["민무늬"]})", R"(, "assumed": {"핏": "노멀"})"),
                 {"assumed", "'핏' is not an attribute"});
  expect_refused(minimal(R"("프린트": {"무지": ["민무늬"]})", R"(, "assumed": {"프린트": "체크"})"),
                 {"assumed", "'체크' is not a value of '프린트'"});
  expect_refused(minimal(R"("프린트": {"무지": ["민무늬"]})", R"(, "assumed": {"프린트": 1})"),
                 {"assumed", "must be a string"});
  expect_refused(minimal(R"("프린트": {"무지": ["민무늬"]})", R"(, "assumed": ["무지"])"), {"assumed must be"});
  expect_refused(std::string("\xff\xfe"), {"not UTF-8"});
  EXPECT_THROW(Lexicon::load(testing::TempDir() + "no-such-lexicon.json"), InputError);
}

TEST(TextLexicon, AcceptsAUsersOwnSmallLexicon) {
  const std::string path = write_file("own_lexicon.json", minimal(R"("색상": {"레드": ["빨강이"], "레깅스": []},
      "스타일": {"스트리트": ["꾸안꾸"]}, "카테고리": {"레깅스": ["쫄바지"]})",
                                                                  R"(, "parts": {"하의": {"words": ["아랫도리"],
      "categories": ["레깅스"]}}, "fillers": ["예쁜"])"));
  // 레깅스 under 색상 is refused (not a colour); the rest is fine once that is gone.
  EXPECT_THROW(Lexicon::load(path), InputError);
  const Lexicon lex = Lexicon::from_json(
      minimal(R"("색상": {"레드": ["빨강이"]}, "스타일": {"스트리트": ["꾸안꾸"]}, "카테고리": {"레깅스": ["쫄바지"]})",
              R"(, "parts": {"하의": {"words": ["아랫도리"], "categories": ["레깅스"]}}, "fillers": ["예쁜"])"),
      "own");
  EXPECT_EQ(lex.lookup("빨강이")->matches, (std::vector<LexiconMatch>{{"색상", "레드"}}));
  EXPECT_EQ(lex.lookup("꾸안꾸")->matches, (std::vector<LexiconMatch>{{"스타일", "스트리트"}}));
  EXPECT_EQ(lex.part_of("레깅스"), "하의");
  EXPECT_EQ(lex.lookup("레드")->matches.size(), 1u);  // the label itself
  EXPECT_EQ(lex.words("색상", "레드"), std::vector<std::string>{"빨강이"});
}

}  // namespace
