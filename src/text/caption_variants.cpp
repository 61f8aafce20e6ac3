#include "text/caption_variants.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/caption.h"

namespace couture {
namespace {

// Draws that are the same with every standard library (std's distributions are not): plain mt19937_64 output.
uint64_t below(std::mt19937_64& rng, uint64_t n) { return n ? rng() % n : 0; }
double unit(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }
bool chance(std::mt19937_64& rng, double p) { return unit(rng) < p; }
template <typename T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& items) {
  return items[below(rng, items.size())];
}
template <typename T>
void shuffle(std::mt19937_64& rng, std::vector<T>& items) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(rng, i)]);
}

// The noun written after a word that another attribute has too ("노멀 핏", "니트 소재"), as people do and as the
// prompt parser reads it.
std::string attribute_noun(const std::string& attribute) {
  if (attribute == "색상") return "색";
  if (attribute == "프린트") return "무늬";
  if (attribute == "소매기장") return "소매";
  return attribute;
}

std::string with(const std::string& word, const char* after_consonant, const char* after_vowel) {
  return word + (kfashion::has_final_consonant(word) ? after_consonant : after_vowel);
}

bool ascii_only(const std::string& word) {
  return std::all_of(word.begin(), word.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool hangul_only(const std::string& word) {
  if (word.empty() || word.size() % 3) return false;
  for (size_t i = 0; i < word.size(); i += 3) {
    const auto* b = reinterpret_cast<const unsigned char*>(word.data() + i);
    const char32_t cp = (char32_t(b[0] & 0x0F) << 12) | (char32_t(b[1] & 0x3F) << 6) | char32_t(b[2] & 0x3F);
    if ((b[0] & 0xF0) != 0xE0 || cp < 0xAC00 || cp > 0xD7A3) return false;
  }
  return true;
}

struct Slot {
  std::string attribute, value;  // canonical value
};

template <typename... Lists>
std::vector<Slot> concat(const Lists&... lists) {
  std::vector<Slot> out;
  (out.insert(out.end(), lists.begin(), lists.end()), ...);
  return out;
}

class CaptionWriter {
 public:
  CaptionWriter(const kfashion::Part& part, const Lexicon& lexicon, std::mt19937_64& rng,
                const CaptionVariantOptions& options)
      : part_(part), lex_(lexicon), rng_(rng), o_(options) {}

  CaptionVariant draw() {
    CaptionVariant out;
    out.expressed.name = part_.name;
    kfashion::Part labels{part_.name, {}, std::nullopt};  // the kept attributes as written, for the template
    choose_attributes(out.expressed, labels);
    if (out.expressed.empty()) return out;
    const double weights[] = {o_.template_weight, o_.phrase_weight, o_.sentence_weight, o_.list_weight};
    double total = 0;
    for (double w : weights) total += std::max(0.0, w);
    double r = unit(rng_) * total;
    size_t form = 0;
    while (form < 3 && (r -= std::max(0.0, weights[form])) >= 0) ++form;
    out.form = CaptionForm(form);
    switch (out.form) {
      case CaptionForm::label_template:
        out.text = template_caption(labels);
        return out;
      case CaptionForm::noun_phrase:
        out.text = noun_phrase(false);
        break;
      case CaptionForm::sentence:
        out.text = sentence();
        break;
      case CaptionForm::comma_list:
        out.text = comma_list();
        break;
    }
    if (o_.fillers && !lex_.fillers().empty() && chance(rng_, o_.filler_probability))
      out.text = pick(rng_, lex_.fillers()) + " " + out.text;
    return out;
  }

 private:
  // Drops attributes, then sorts the rest into slots: colours, prints, the category and the others.
  void choose_attributes(kfashion::Part& expressed, kfashion::Part& labels) {
    std::vector<const kfashion::Attribute*> kept, candidates;
    for (const auto& a : part_.attributes) {
      if (a.values.empty()) continue;
      // A print the garment shows is never left out: to a designer an unnamed print means a plain garment.
      const bool shown_print = a.name == "프린트" && lex_.canonical("프린트", a.values.front()) != "무지";
      if (!chance(rng_, o_.drop_probability) || shown_print) kept.push_back(&a);
      if (a.name != "서브색상") candidates.push_back(&a);
    }
    auto has = [&](const char* name) {
      return std::any_of(kept.begin(), kept.end(), [&](auto* a) { return a->name == name; });
    };
    // A sub-colour is the colour of the print: without its main colour or its print it says nothing true.
    const bool sub_ok =
        has("색상") && (has("프린트") || !part_.find("프린트")) &&
        lex_.canonical("색상", part_.first_value("서브색상")) != lex_.canonical("색상", part_.first_value("색상"));
    std::erase_if(kept, [&](auto* a) { return a->name == "서브색상" && !sub_ok; });
    if (kept.empty() && !candidates.empty()) kept.push_back(pick(rng_, candidates));  // never everything
    for (const auto& a : part_.attributes) {  // in label order
      if (std::find(kept.begin(), kept.end(), &a) == kept.end()) continue;
      kfashion::Attribute canonical{a.name, {}, a.is_list};
      for (const auto& v : a.values) {
        const std::string c = lex_.canonical(a.name, v);
        if (std::find(canonical.values.begin(), canonical.values.end(), c) != canonical.values.end()) continue;
        canonical.values.push_back(c);
        if (a.name == "색상")
          main_ = c;
        else if (a.name == "서브색상")
          sub_ = c;
        else if (a.name == "카테고리")
          category_ = c;
        else if (a.name == "프린트")
          prints_.push_back({"프린트", c});
        else
          others_.push_back({a.name, c});
        if (!a.is_list) break;
      }
      expressed.attributes.push_back(std::move(canonical));
      labels.attributes.push_back(a);
    }
    patterned_ = std::any_of(prints_.begin(), prints_.end(), [](const Slot& p) { return p.value != "무지"; });
    shuffle(rng_, others_);
    if (!category_.empty())
      rest_ = concat(others_, std::vector<Slot>{{"카테고리", category_}});
    else
      rest_ = others_;
  }

  // A word for a value: any of its words before a noun, only nouns where it stands alone (not "빨간", "짧은").
  std::string word(const std::string& attribute, const std::string& value, bool before_noun) {
    const std::string vocabulary = attribute == "서브색상" ? "색상" : attribute;
    std::vector<std::string> candidates, korean;
    for (const auto& w : lex_.words(vocabulary, value))
      if (before_noun || !lex_.is_modifier(w)) candidates.push_back(w);
    for (const auto& w : candidates)
      if (!ascii_only(w)) korean.push_back(w);
    if (!korean.empty() && !chance(rng_, o_.latin_word_probability)) candidates = std::move(korean);
    if (candidates.empty()) return value;
    const bool label_listed = std::find(candidates.begin(), candidates.end(), value) != candidates.end();
    std::string w = label_listed && chance(rng_, o_.label_word_probability) ? value : pick(rng_, candidates);
    // A word another attribute has too (노멀: 기장 and 핏) gets its attribute's noun; the category needs none, being
    // the head noun the parser looks for.
    const LexiconEntry* e = lex_.lookup(w);
    if (attribute != "카테고리" && e && e->matches.size() > 1) w += " " + attribute_noun(vocabulary);
    return w;
  }

  // The slots' words with spaces, now and then written together; the last may be a modifier only before a noun.
  std::string words(const std::vector<Slot>& slots, bool before_noun) {
    std::vector<std::string> w(slots.size());
    auto draw = [&](size_t i) { w[i] = word(slots[i].attribute, slots[i].value, before_noun || i + 1 < slots.size()); };
    for (size_t i = 0; i < slots.size(); ++i) {
      draw(i);
      // Not two words that are one lexicon word together ("깅엄 체크" is 깅엄 alone, "긴 소매 없음" 긴팔): draw
      // either again.
      for (int tries = 0; tries < 16 && i > 0 && forms_longer_word(w[i - 1], w[i]); ++tries) draw(i - tries % 2);
    }
    std::string out;
    for (size_t i = 0; i < w.size(); ++i) {
      const bool noun = slots[i].attribute == "카테고리" || slots[i].attribute == "프린트";  // "체크셔츠", "블랙줄무늬"
      if (i > 0) out += noun && can_join(w[i - 1], w[i]) && chance(rng_, o_.join_probability) ? "" : " ";
      out += w[i];
    }
    return out;
  }

  // Whether a lexicon word starts at the last word of `first` and runs into `second`, so that the parser would read
  // them as one ("블루" + "진" is 블루진, jeans).
  bool forms_longer_word(const std::string& first, const std::string& second) const {
    const std::string a = lexicon_key(first.substr(first.rfind(' ') == std::string::npos ? 0 : first.rfind(' ') + 1));
    const std::string joined = a + lexicon_key(second);
    for (size_t end = a.size() + 1; end <= joined.size(); ++end)
      if ((end == joined.size() || (joined[end] & 0xC0) != 0x80) && lex_.find_key(joined.substr(0, end))) return true;
    return false;
  }

  // Only where the parser splits the written-together word back: Hangul words, the second of two syllables or more
  // (not a particle such as 면), and no lexicon word across them.
  bool can_join(const std::string& first, const std::string& second) const {
    return hangul_only(first) && hangul_only(second) && second.size() >= 6 && !forms_longer_word(first, second);
  }

  // "레드 색상의", but "빨간색의" rather than "빨간색 색상의".
  static std::string colour_of(const std::string& w, const char* particle) {
    const bool says_colour = w.size() >= 3 && w.compare(w.size() - 3, 3, "색") == 0;
    return w + (says_colour ? "" : " 색상") + particle;
  }

  std::vector<Slot> colour(const std::string& value, const char* attribute = "색상") const {
    return value.empty() ? std::vector<Slot>{} : std::vector<Slot>{{attribute, value}};
  }
  std::vector<Slot> sub() const { return colour(sub_, "서브색상"); }

  // A noun phrase ending in a noun, then the copula: "빨간 줄무늬 티셔츠예요", "빨간 줄무늬 옷이에요".
  std::string with_copula(const std::string& phrase, bool ends_with_category) {
    if (phrase.empty()) return copula("옷");
    return ends_with_category ? copula(phrase) : phrase + " " + copula("옷");
  }

  std::string copula(const std::string& noun) {
    switch (below(rng_, 3)) {
      case 0:
        return noun + "입니다";
      case 1:
        return with(noun, "이에요", "예요");
      default:
        return noun + "이다";
    }
  }

  // "빨간 줄무늬 반팔 티셔츠", "네이비 바탕에 레드 줄무늬 셔츠", "레드 스트라이프 네이비 셔츠".
  std::string noun_phrase(bool before_noun) {
    if (!sub_.empty() && patterned_) {
      switch (below(rng_, 3)) {
        case 0:
          return words(concat(colour(main_), sub(), prints_, rest_), before_noun);
        case 1:
          return words(concat(sub(), prints_, colour(main_), rest_), before_noun);
        default:
          return word("색상", main_, true) + " 바탕에 " + words(concat(sub(), prints_, rest_), before_noun);
      }
    }
    const auto colours = concat(colour(main_), sub());
    return words(chance(rng_, 0.5) || !sub_.empty() ? concat(colours, prints_, rest_) : concat(prints_, colours, rest_),
                 before_noun);
  }

  std::string sentence() {
    std::vector<int> shapes = {0};
    if (patterned_) shapes.push_back(1);
    if (!category_.empty() && (!main_.empty() || !prints_.empty())) shapes.push_back(2);
    if (!main_.empty()) shapes.push_back(3);
    const bool has_category = !category_.empty();
    std::string s;
    switch (pick(rng_, shapes)) {
      case 1:  // "줄무늬가 들어간 빨간색 반팔 티셔츠입니다."
        s = with(words(concat(sub(), prints_), false), "이", "가") + " 들어간 " +
            with_copula(words(concat(colour(main_), rest_), true), has_category);
        break;
      case 2: {  // "반팔 티셔츠는 빨간색이고 줄무늬예요."
        const std::string topic = with(words(rest_, true), "은", "는") + " ";
        const std::string pattern = words(prints_, false);
        if (!sub_.empty() && patterned_) {
          s = topic + word("색상", main_, true) + " 바탕에 " + word("서브색상", sub_, true) + " " + copula(pattern);
        } else if (!main_.empty() && !sub_.empty()) {
          s = topic + (pattern.empty() ? "" : pattern + " ") + with(word("색상", main_, false), "과", "와") + " " +
              copula(word("서브색상", sub_, false));
        } else if (!main_.empty()) {
          const std::string c = word("색상", main_, false);
          s = topic + (pattern.empty() ? copula(c) : with(c, "이고", "고") + " " + copula(pattern));
        } else {
          s = topic + copula(pattern);
        }
        break;
      }
      case 3:  // "레드 색상의 스트라이프 티셔츠입니다."
        s = colour_of(word("색상", main_, false), sub_.empty() ? "의 " : "에 ") +
            with_copula(words(concat(sub(), prints_, rest_), true), has_category);
        break;
      default: {  // "빨간 줄무늬 티셔츠예요.", "상의는 빨간 줄무늬 티셔츠예요."
        s = with_copula(noun_phrase(true), has_category);
        const auto& part_words = lex_.part_words(part_.name);
        if (!part_words.empty() && part_.name != "원피스" && chance(rng_, o_.part_word_probability))
          s = with(pick(rng_, part_words), "은", "는") + " " + s;
      }
    }
    return chance(rng_, 0.7) ? s + "." : s;
  }

  // "티셔츠, 레드, 스트라이프 패턴"; the sub-colour stays with its print, or comes after the main colour.
  std::string comma_list() {
    std::vector<std::string> items;
    for (const auto& slot : rest_) items.push_back(word(slot.attribute, slot.value, false));
    const size_t main_at = items.size();
    if (!main_.empty()) items.push_back(word("색상", main_, false));
    if (!prints_.empty()) {
      const std::string p = words(patterned_ ? concat(sub(), prints_) : prints_, false);
      items.push_back(chance(rng_, 0.4) ? p + " 패턴" : p);
    }
    size_t sub_at = SIZE_MAX;
    if (!sub_.empty() && !patterned_) {
      sub_at = items.size();
      items.push_back(word("서브색상", sub_, false));
    }
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    shuffle(rng_, order);
    if (sub_at != SIZE_MAX) {
      auto m = std::find(order.begin(), order.end(), main_at), s = std::find(order.begin(), order.end(), sub_at);
      if (s < m) std::iter_swap(m, s);
    }
    std::string out;
    for (size_t i : order) out += (out.empty() ? "" : ", ") + items[i];
    return out;
  }

  const kfashion::Part& part_;
  const Lexicon& lex_;
  std::mt19937_64& rng_;
  const CaptionVariantOptions& o_;
  std::string main_, sub_, category_;
  std::vector<Slot> prints_, others_, rest_;  // rest: the others (shuffled), then the category
  bool patterned_ = false;                    // a print other than 무지: the sub-colour stands right before it
};

}  // namespace

const char* caption_form_name(CaptionForm form) {
  switch (form) {
    case CaptionForm::label_template:
      return "template";
    case CaptionForm::noun_phrase:
      return "phrase";
    case CaptionForm::sentence:
      return "sentence";
    case CaptionForm::comma_list:
      return "list";
  }
  return "?";
}

CaptionVariant draw_caption(const kfashion::Part& part, const Lexicon& lexicon, std::mt19937_64& rng,
                            const CaptionVariantOptions& options) {
  return CaptionWriter(part, lexicon, rng, options).draw();
}

CaptionVariant draw_caption(const kfashion::Part& part, const Lexicon& lexicon, uint64_t seed,
                            const CaptionVariantOptions& options) {
  std::mt19937_64 rng(seed);
  return draw_caption(part, lexicon, rng, options);
}

std::string template_caption(const kfashion::Part& part) {
  std::string out;
  for (const auto& a : part.attributes) {
    std::string sentence = kfashion::attribute_sentence(part.name, a, kfashion::CaptionCompat::couture);
    if (!sentence.empty()) out += (out.empty() ? "" : " ") + sentence;
  }
  return out;
}

kfashion::Part part_from_json(const std::string& name, const nlohmann::ordered_json& attributes) {
  COUTURE_CHECK_INPUT(attributes.is_object(), "attributes of ", name, " are a ", attributes.type_name(),
                      ", expected an object");
  kfashion::Part part{name, {}, std::nullopt};
  for (const auto& [attribute, value] : attributes.items()) {
    kfashion::Attribute a{attribute, {}, kfashion::is_list_attribute(attribute)};
    for (const auto& v : value.is_array() ? value : nlohmann::ordered_json::array({value})) {
      COUTURE_CHECK_INPUT(v.is_string(), name, " ", attribute, " holds a ", v.type_name(), ", expected text");
      if (!v.get_ref<const std::string&>().empty()) a.values.push_back(v.get<std::string>());
    }
    if (!a.values.empty()) part.attributes.push_back(std::move(a));
  }
  return part;
}

std::vector<kfashion::Part> parts_from_json(const nlohmann::ordered_json& by_part) {
  COUTURE_CHECK_INPUT(by_part.is_object(), "record attributes are a ", by_part.type_name(), ", expected an object");
  std::vector<kfashion::Part> parts;
  for (const auto& [name, attributes] : by_part.items()) {
    kfashion::Part p = part_from_json(name, attributes);
    if (!p.empty()) parts.push_back(std::move(p));
  }
  return parts;
}

}  // namespace couture
