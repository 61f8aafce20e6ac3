// Caption variants: seeded, all four forms, correct particles, and, the key property, every caption parses back to
// the attributes it was drawn from (those not dropped), for Couture-FMNIST garments and for K-Fashion-like parts
// with every attribute.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "text/caption.h"
#include "text/caption_variants.h"
#include "text/prompt_parse.h"

namespace {
using namespace couture;

kfashion::Part garment(const std::string& part, const std::vector<std::pair<std::string, std::string>>& attributes) {
  kfashion::Part p{part, {}, std::nullopt};
  for (const auto& [name, value] : attributes)
    p.attributes.push_back({name, {value}, kfashion::is_list_attribute(name)});
  return p;
}

const kfashion::Part kStripedTee =
    garment("상의", {{"색상", "레드"}, {"서브색상", "네이비"}, {"카테고리", "티셔츠"}, {"프린트", "스트라이프"}});

// Couture-FMNIST's vocabulary (src/data/fmnist_synth.cpp, fmnist.cpp).
const char* const kColours[] = {"화이트", "블랙", "그레이", "레드", "핑크", "오렌지", "베이지", "브라운", "옐로우",
                                "그린", "카키", "민트", "스카이블루", "블루", "네이비", "퍼플", "라벤더", "와인"};
const std::pair<const char*, const char*> kGarments[] = {{"상의", "티셔츠"}, {"하의", "팬츠"}, {"상의", "니트웨어"},
                                                         {"원피스", "드레스"}, {"아우터", "코트"}, {"상의", "셔츠"}};
const char* const kPrints[] = {"무지", "스트라이프", "체크", "도트"};

kfashion::Part fmnist_garment(std::mt19937_64& rng) {
  const auto [part, category] = kGarments[rng() % 6];
  const size_t colour = rng() % 18, print = rng() % 4, sub = (colour + 1 + rng() % 17) % 18;
  kfashion::Part p{part, {{"색상", {kColours[colour]}, false}}, std::nullopt};
  if (print != 0) p.attributes.push_back({"서브색상", {kColours[sub]}, false});
  p.attributes.push_back({"카테고리", {category}, false});
  p.attributes.push_back({"프린트", {kPrints[print]}, true});
  return p;
}

// A K-Fashion-like part: the category and, each with probability 1/2, every other attribute (one or two values for
// the list attributes), spelling variants included.
kfashion::Part kfashion_garment(std::mt19937_64& rng) {
  const Lexicon& lex = default_lexicon();
  const auto& categories = kfashion::known_values("카테고리");
  const std::string category = categories[rng() % categories.size()];
  kfashion::Part p{lex.part_of(category), {}, std::nullopt};
  for (const char* name :
       {"기장", "색상", "서브색상", "카테고리", "디테일", "소매기장", "소재", "프린트", "넥라인", "칼라", "핏"}) {
    if (std::string(name) != "카테고리" && rng() % 2) continue;
    const auto& values = kfashion::known_values(name);
    kfashion::Attribute a{name, {}, kfashion::is_list_attribute(name)};
    for (size_t n = a.is_list ? 1 + rng() % 2 : 1; n > 0; --n) {
      const std::string v = std::string(name) == "카테고리" ? category : values[rng() % values.size()];
      bool repeated = false;
      for (const auto& x : a.values) repeated = repeated || lex.canonical(name, x) == lex.canonical(name, v);
      if (!repeated) a.values.push_back(v);
    }
    p.attributes.push_back(a);
  }
  return p;
}

// `skip`: attributes left out (what the parser assumed rather than read).
std::map<std::string, std::set<std::string>> as_map(const kfashion::Part& p, const std::vector<std::string>& skip = {}) {
  std::map<std::string, std::set<std::string>> m;
  for (const auto& a : p.attributes)
    if (std::find(skip.begin(), skip.end(), a.name) == skip.end()) m[a.name].insert(a.values.begin(), a.values.end());
  return m;
}

// Draws `n` captions and parses each back to what it states; shows the first 10 failures.
template <typename MakePart>
void expect_round_trip(MakePart make_part, int n, uint64_t seed) {
  const Lexicon& lex = default_lexicon();
  int failures = 0;
  std::map<CaptionForm, int> forms;
  for (int i = 0; i < n; ++i) {
    std::mt19937_64 rng(seed + uint64_t(i));
    const kfashion::Part part = make_part(rng);
    const CaptionVariant v = draw_caption(part, lex, rng);
    ++forms[v.form];
    ASSERT_FALSE(v.expressed.empty()) << v.text;
    const ParsedPrompt p = parse_prompt(v.text, lex);
    const bool part_ok = v.expressed.first_value("카테고리").empty() || p.garment.name == part.name;
    if (as_map(p.garment, p.assumed) == as_map(v.expressed) && p.unrecognized.empty() && part_ok) continue;
    if (++failures <= 10)
      ADD_FAILURE() << "[" << caption_form_name(v.form) << "] " << v.text << "\n  parsed " << p.to_json().dump()
                    << "\n  stated " << nlohmann::json(as_map(v.expressed)).dump();
  }
  EXPECT_EQ(failures, 0) << "of " << n;
  EXPECT_EQ(forms.size(), 4u);
}

TEST(TextCaptionVariants, SameSeedSameCaption) {
  for (uint64_t seed : {0ull, 1ull, 42ull, 123456789ull}) {
    const CaptionVariant a = draw_caption(kStripedTee, default_lexicon(), seed);
    const CaptionVariant b = draw_caption(kStripedTee, default_lexicon(), seed);
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.form, b.form);
  }
  std::mt19937_64 r1(9), r2(9);
  EXPECT_EQ(draw_caption(kStripedTee, default_lexicon(), r1).text,
            draw_caption(kStripedTee, default_lexicon(), r2).text);
}

TEST(TextCaptionVariants, TwoHundredSeedsGiveAllFourFormsAndManyTexts) {
  std::set<CaptionForm> forms;
  std::set<std::string> texts;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const CaptionVariant v = draw_caption(kStripedTee, default_lexicon(), seed);
    forms.insert(v.form);
    texts.insert(v.text);
    if (v.form == CaptionForm::label_template) {
      EXPECT_EQ(v.text, template_caption(v.expressed));
    }
  }
  EXPECT_EQ(forms.size(), 4u);
  EXPECT_GT(texts.size(), 120u);
}

TEST(TextCaptionVariants, FmnistCaptionsParseBackToWhatTheyState) { expect_round_trip(fmnist_garment, 5000, 1); }

TEST(TextCaptionVariants, KFashionCaptionsWithEveryAttributeParseBack) {
  expect_round_trip(kfashion_garment, 5000, 100000);
}

TEST(TextCaptionVariants, DropsSomeAttributesButNeverAll) {
  CaptionVariantOptions heavy;
  heavy.drop_probability = 0.95;
  size_t total = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    const CaptionVariant v = draw_caption(kStripedTee, default_lexicon(), seed, heavy);
    EXPECT_FALSE(v.expressed.empty());
    EXPECT_FALSE(v.text.empty());
    // A sub-colour never stands without its main colour and print.
    if (v.expressed.find("서브색상")) {
      EXPECT_TRUE(v.expressed.find("색상") && v.expressed.find("프린트")) << v.text;
    }
    total += v.expressed.attributes.size();
  }
  EXPECT_LT(total, 300u * 2);
  CaptionVariantOptions none;
  none.drop_probability = 0;
  for (uint64_t seed = 0; seed < 50; ++seed)
    EXPECT_EQ(draw_caption(kStripedTee, default_lexicon(), seed, none).expressed.attributes.size(), 4u);
}

// "남색 셔츠" asks for a plain shirt: a caption may leave 무지 out, never a print the garment shows.
TEST(TextCaptionVariants, APrintShownIsNeverLeftOut) {
  CaptionVariantOptions heavy;
  heavy.drop_probability = 0.95;
  const kfashion::Part plain = garment("상의", {{"색상", "네이비"}, {"카테고리", "셔츠"}, {"프린트", "무지"}});
  int plain_dropped = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    for (const char* print : {"스트라이프", "체크", "도트"}) {
      const kfashion::Part shown = garment("상의", {{"색상", "네이비"}, {"카테고리", "셔츠"}, {"프린트", print}});
      const CaptionVariant v = draw_caption(shown, default_lexicon(), seed, heavy);
      EXPECT_TRUE(v.expressed.find("프린트")) << print << ": " << v.text;
    }
    plain_dropped += !draw_caption(plain, default_lexicon(), seed, heavy).expressed.find("프린트");
  }
  EXPECT_GT(plain_dropped, 100) << "무지 may still be left out";
}

TEST(TextCaptionVariants, FillersOnlyWhenAsked) {
  const Lexicon& lex = default_lexicon();
  CaptionVariantOptions always, never;
  always.filler_probability = 1.0;
  always.template_weight = 0;
  never.fillers = false;
  std::set<std::string> fillers(lex.fillers().begin(), lex.fillers().end());
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const std::string a = draw_caption(kStripedTee, lex, seed, always).text;
    EXPECT_TRUE(std::any_of(fillers.begin(), fillers.end(), [&](const auto& f) { return a.rfind(f + " ", 0) == 0; }))
        << a;
    const ParsedPrompt p = parse_prompt(a);
    EXPECT_FALSE(p.ignored.empty()) << a;
    EXPECT_TRUE(p.unrecognized.empty()) << a;
    const std::string b = draw_caption(kStripedTee, lex, seed, never).text;
    EXPECT_TRUE(parse_prompt(b).ignored.empty()) << b;
  }
}

// 이에요 / 예요, 은 / 는, 이 / 가 and 과 / 와 after the right syllables.
TEST(TextCaptionVariants, KoreanParticlesFollowTheFinalConsonant) {
  CaptionVariantOptions sentences;
  sentences.template_weight = sentences.phrase_weight = sentences.list_weight = 0;
  sentences.fillers = false;
  sentences.drop_probability = 0;
  const std::vector<std::pair<std::string, bool>> endings = {
      {"이에요", true}, {"예요", false}, {"은 ", true}, {"는 ", false}, {"이 들어간", true}, {"가 들어간", false},
      {"과 ", true},    {"와 ", false}};
  std::mt19937_64 rng(3);
  int checked = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string text =
        draw_caption(i % 2 ? fmnist_garment(rng) : kfashion_garment(rng), default_lexicon(), rng, sentences).text;
    for (const auto& [ending, after_consonant] : endings) {
      for (size_t at = text.find(ending); at != std::string::npos; at = text.find(ending, at + 1)) {
        const std::string before = text.substr(0, at);
        if (before.empty() || before.back() == ' ' || static_cast<unsigned char>(before.back()) < 0x80) continue;
        if (ending == "은 " || ending == "는 ") {  // only a topic: after a garment or part word ("붉은 " is a word)
          const LexiconEntry* e = default_lexicon().lookup(before.substr(before.rfind(' ') + 1));
          if (!e || (e->part.empty() && !std::any_of(e->matches.begin(), e->matches.end(),
                                                     [](const auto& m) { return m.attribute == "카테고리"; })))
            continue;
        }
        // 예요 inside 이에요 is not a separate ending
        if (ending == "예요" && before.size() >= 3 && before.compare(before.size() - 3, 3, "이") == 0) continue;
        EXPECT_EQ(kfashion::has_final_consonant(before), after_consonant) << text << " at '" << ending << "'";
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(TextCaptionVariants, TemplateIsTheLabelSentencesOfThePart) {
  EXPECT_EQ(template_caption(kStripedTee),
            "상의에서 색상은 레드이다. 상의에서 서브색상은 네이비이다. 상의에서 카테고리는 티셔츠이다. "
            "상의에서 프린트에는 스트라이프이다.");
  kfashion::Label label{"", "", 0, 0, {kStripedTee}, {}};
  EXPECT_EQ(template_caption(kStripedTee), kfashion::full_caption(label, {}));
}

TEST(TextCaptionVariants, PartsFromARecordsAttributes) {
  const auto record = nlohmann::ordered_json::parse(R"({"스타일": {"스타일": "로맨틱"}, "상의": {"색상": "레드",
      "서브색상": "네이비", "카테고리": "티셔츠", "프린트": ["스트라이프"]}, "하의": {}})");
  const auto parts = parts_from_json(record);
  ASSERT_EQ(parts.size(), 2u);  // the empty 하의 left out
  EXPECT_EQ(parts[0].name, "스타일");
  EXPECT_EQ(template_caption(parts[1]), template_caption(kStripedTee));
  EXPECT_TRUE(parts[1].find("프린트")->is_list);
  EXPECT_THROW(part_from_json("상의", nlohmann::ordered_json::parse(R"({"색상": 3})")), InputError);
  EXPECT_THROW(part_from_json("상의", nlohmann::ordered_json::parse(R"(["레드"])")), InputError);
  EXPECT_THROW(parts_from_json(nlohmann::ordered_json::parse(R"([1])")), InputError);
  EXPECT_TRUE(draw_caption(kfashion::Part{"상의", {}, std::nullopt}, default_lexicon(), 1).text.empty());
}

}  // namespace
