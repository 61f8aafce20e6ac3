#include "text/prompt_parse.h"

#include <utf8proc.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "text/bert_pretokenizer.h"
#include "text/caption_variants.h"
#include "text/unicode.h"

namespace couture {
namespace {

// K-Fashion's label order (that of its example labels and of Couture-FMNIST's records), so that the template caption
// of a parsed prompt is the dataset's.
const char* const kAttributeOrder[] = {"기장", "색상", "서브색상", "카테고리", "디테일", "소매기장",
                                       "소재", "프린트", "넥라인", "칼라", "핏", "스타일"};
// A word with readings in several attributes and nothing to tell them apart: the first of these still unset.
const char* const kReadingPriority[] = {"프린트", "소재", "소매기장", "기장", "핏", "넥라인", "칼라", "디테일", "스타일"};
constexpr size_t kMaxJoinedWords = 4;    // "peter pan collar"; the lexicon refuses longer words
constexpr int kMaxPiecesPerWord = 5;     // "빨간줄무늬반팔티셔츠입니다"
constexpr size_t kMaxWordChars = 64;     // longer words are not split (nothing in a lexicon is that long)

enum Role { kNoRole = 0, kMain = 1, kSub = 2 };

// Words around attribute values rather than values: the template's attribute names and what people write for them,
// the colour-role markers (네이비 *바탕*에 레드 줄무늬) and function words. `attribute` steers the reading of an
// ambiguous neighbour: the value after "핏은" or before "핏" is a 핏; `role` marks a colour as main or sub.
struct Structure {
  const char* attribute;  // "" for function words
  Role forward = kNoRole, backward = kNoRole;
};

const std::unordered_map<std::string_view, Structure>& structure_words() {
  static const std::unordered_map<std::string_view, Structure> words = [] {
    std::unordered_map<std::string_view, Structure> w;
    w["색상"] = {"색상", kMain, kNoRole};
    for (const char* s : {"색", "색깔", "컬러", "계열", "톤"}) w[s] = {"색상"};
    for (const char* s : {"서브색상", "서브컬러", "서브", "포인트", "포인트컬러", "포인트색상", "보조색", "배색"})
      w[s] = {"색상", kSub, kSub};
    for (const char* s : {"바탕", "바탕색", "배경", "배경색", "베이스", "메인", "메인컬러", "메인색상", "주색상"})
      w[s] = {"색상", kMain, kMain};
    const std::pair<const char*, std::vector<const char*>> named[] = {
        {"기장", {"기장", "길이"}},
        {"카테고리", {"카테고리", "종류"}},
        {"디테일", {"디테일", "장식"}},
        {"소매기장", {"소매기장", "소매", "소매길이"}},
        {"소재", {"소재", "재질", "원단"}},
        {"프린트", {"프린트", "무늬", "패턴"}},
        {"넥라인", {"넥라인", "넥", "목선"}},
        {"칼라", {"칼라", "옷깃", "깃"}},
        {"핏", {"핏"}},
        {"스타일", {"스타일", "서브스타일", "룩"}},
    };
    for (const auto& [attribute, names] : named)
      for (const char* s : names) w[s] = {attribute};
    for (const char* s :
         {"들어간", "들어가", "들어가는", "들어있는", "들어간다", "있는", "있고", "있어요", "있음", "있습니다", "있다",
          "된", "되어", "되어있는", "된다", "처리된", "달린", "위에", "위", "아래", "안에", "속에", "그리고", "및",
          "또는", "혹은", "이다", "입니다", "이에요", "예요", "이고", "의", "에", "와", "과", "로", "으로", "느낌",
          "디자인", "제품", "옷", "의류", "아이템", "하나", "한", "벌", "한벌", "것", "거", "같은", "주세요",
          "해주세요", "만들어", "만들어줘", "만들어주세요", "그려줘", "그려주세요", "보여줘", "보여주세요",
          "추천해줘", "원해요", "원합니다", "입은", "입고", "착용", "진한", "연한", "밝은", "어두운", "짙은", "옅은",
          "라인", "매우", "아주", "살짝", "약간", "조금", "전체", "전체적으로", "포함", "포함된", "섞인", "조합"})
      w[s] = {""};
    return w;
  }();
  return words;
}

// Particles and endings that may follow a lexicon word inside one written word ("빨간색이", "티셔츠입니다").
const std::unordered_set<std::string_view>& endings() {
  static const std::unordered_set<std::string_view> e = {
      "의", "이", "가", "은", "는", "을", "를", "에", "에서", "에는", "에도", "에서는", "에서의", "로", "으로",
      "로는", "으로는", "로도", "으로도", "와", "과", "랑", "이랑", "하고", "도", "만", "이나", "나", "든", "이든",
      "처럼", "같이", "보다", "까지", "부터", "용", "류", "들", "이다", "다", "입니다", "이에요", "예요", "이야",
      "야", "이고", "고", "이며", "며", "인", "이라", "라", "이라서", "라서", "이면", "면", "임", "이요", "요",
      "이죠", "죠", "이네요", "네요", "였으면", "이었으면", "으로요", "로요", "인데", "인데요", "한", "해요",
      "하게", "한데", "해서", "스러운", "으로된", "로된"};
  return e;
}

bool is_topic_ending(std::string_view e) { return e == "은" || e == "는" || e == "이" || e == "가" || e == "에는"; }

bool is_sentence_end(std::string_view p) {
  return p == "." || p == "!" || p == "?" || p == "。" || p == "…" || p == ";";
}

struct Token {
  std::string written, key;
  bool punctuation = false;
};

// One dictionary word found inside a written word.
struct Piece {
  const LexiconEntry* entry = nullptr;  // a lexicon word (values, part, filler), or
  const Structure* structure = nullptr;  // a structure word
  size_t begin = 0, end = 0;             // bytes of the key
  std::string ending;                    // what follows the last piece
};

// A value word of the prompt and what decides its reading.
struct Item {
  std::string written;
  std::vector<LexiconMatch> readings;
  std::string forward_hint, backward_hint;  // attribute named before it (with 은/는) / right after it
  Role forward_role = kNoRole, backward_role = kNoRole;
  size_t clause = 0;
  bool other_part = false, used = false;

  const std::string& hint() const { return backward_hint.empty() ? forward_hint : backward_hint; }
  Role role() const { return backward_role ? backward_role : forward_role; }
  const LexiconMatch* reading(std::string_view attribute) const {
    for (const auto& r : readings)
      if (r.attribute == attribute) return &r;
    return nullptr;
  }
};

class PromptParser {
 public:
  explicit PromptParser(const Lexicon& lexicon) : lex_(lexicon) {}

  ParsedPrompt parse(std::string_view text) {
    COUTURE_CHECK_INPUT(text.size() <= kMaxPromptBytes, "prompt of ", text.size(), " bytes is over the ",
                        kMaxPromptBytes, "-byte limit");
    COUTURE_CHECK_INPUT(utf8::is_valid(text), "prompt is not valid UTF-8 text");
    tokenize(text);
    for (size_t i = 0; i < tokens_.size();) i += read_at(i);
    resolve();
    return std::move(out_);
  }

 private:
  // The tokenizer's words, with symbols split off ("티셔츠😀" is 티셔츠 and 😀).
  void tokenize(std::string_view text) {
    PreTokenized words;
    pre_tokenize(text, NormalizerConfig{}, words);
    for (const Word& w : words.words) {
      const std::string_view word = words.word(w);
      size_t start = 0;
      bool symbols = false;
      for (size_t i = 0; i <= word.size();) {
        size_t next = i;
        const bool symbol = i < word.size() && is_symbol(utf8::next(word, next));
        if (i == word.size() || (i > start && symbol != symbols)) {
          add_token(word.substr(start, i - start));
          start = i;
        }
        symbols = symbol;
        if (i == word.size()) break;
        i = next;
      }
    }
  }

  static bool is_symbol(char32_t cp) {
    const auto c = utf8proc_category(utf8proc_int32_t(cp));
    return c == UTF8PROC_CATEGORY_SM || c == UTF8PROC_CATEGORY_SC || c == UTF8PROC_CATEGORY_SK ||
           c == UTF8PROC_CATEGORY_SO;
  }

  void add_token(std::string_view written) {
    Token t{std::string(written), lexicon_key(written)};
    size_t i = 0;
    t.punctuation =
        utf8::count_chars(written) == 1 && (unicode::classify(utf8::next(written, i)) & unicode::kPunctuation);
    tokens_.push_back(std::move(t));
  }

  // A lexicon word first, but a structure word over a filler (스타일 is both).
  bool lookup(std::string_view key, Piece& piece) const {
    const LexiconEntry* e = lex_.find_key(key);
    auto it = structure_words().find(key);
    if (e && (!e->matches.empty() || !e->part.empty() || it == structure_words().end())) {
      piece.entry = e;
      return true;
    }
    if (it == structure_words().end()) return false;
    piece.structure = &it->second;
    return true;
  }

  // Splits s[pos..] into dictionary words and a final ending, longest word first, backtracking.
  bool segment(std::string_view s, size_t pos, std::vector<Piece>& out, int depth) const {
    if (depth >= kMaxPiecesPerWord) return false;
    const size_t longest = std::min(s.size(), pos + std::max<size_t>(lex_.max_key_bytes(), 24));
    for (size_t end = longest; end > pos; --end) {
      if (end < s.size() && utf8::is_continuation_byte(static_cast<unsigned char>(s[end]))) continue;
      Piece piece;
      if (!lookup(s.substr(pos, end - pos), piece)) continue;
      piece.begin = pos, piece.end = end;
      const std::string_view rest = s.substr(end);
      if (rest.empty() || endings().count(rest)) {
        piece.ending = rest;
        out.push_back(piece);
        return true;
      }
      out.push_back(piece);
      if (segment(s, end, out, depth + 1)) return true;
      out.pop_back();
    }
    return false;
  }

  // Reads the words starting at token i; returns how many tokens were consumed.
  size_t read_at(size_t i) {
    const Token& t = tokens_[i];
    if (t.punctuation) {
      if (is_sentence_end(t.written)) context_ = {}, context_role_ = kNoRole;
      ++clause_;
      adjacent_ = false;
      return 1;
    }
    // Adjacent words joined ("스카이 블루", "울/캐시미어"), fewest first, kept only when the last dictionary word runs
    // from an earlier word into the last and no other crosses a space: "올리브 색상의" is not 올리브색 + 상의.
    for (size_t k = 2; k <= std::min(kMaxJoinedWords, tokens_.size() - i); ++k) {
      std::string joined, written;
      std::vector<size_t> boundaries;
      for (size_t j = i; j < i + k; ++j) {
        if (j > i) boundaries.push_back(joined.size());
        joined += tokens_[j].key;
        written += (j > i && !tokens_[j].punctuation && !tokens_[j - 1].punctuation ? " " : "") + tokens_[j].written;
      }
      if (tokens_[i + k - 1].punctuation || utf8::count_chars(joined) > kMaxWordChars) continue;
      std::vector<Piece> pieces;
      if (!segment(joined, 0, pieces, 0)) continue;
      const Piece& last = pieces.back();
      bool inner_crossing = false;
      for (size_t p = 0; p + 1 < pieces.size(); ++p)
        for (size_t b : boundaries) inner_crossing = inner_crossing || (pieces[p].begin < b && b < pieces[p].end);
      if (inner_crossing || last.begin >= boundaries.back() || last.end <= boundaries.back()) continue;
      take(pieces, written, i + k);
      return k;
    }
    std::vector<Piece> pieces;
    if (utf8::count_chars(t.key) <= kMaxWordChars && segment(t.key, 0, pieces, 0)) {
      take(pieces, t.written, i + 1);
    } else {
      out_.unrecognized.push_back(t.written);
      adjacent_ = false;
    }
    return 1;
  }

  // The pieces of one written word (or joined words) into items and context; `next` is the token after them.
  void take(const std::vector<Piece>& pieces, const std::string& written, size_t next) {
    for (size_t p = 0; p < pieces.size(); ++p) {
      const Piece& piece = pieces[p];
      const bool last = p + 1 == pieces.size();
      const std::string_view ending = last ? std::string_view(piece.ending) : std::string_view();
      if (piece.structure) {
        const Structure& s = *piece.structure;
        const bool forward =
            is_topic_ending(ending) || (last && next < tokens_.size() && tokens_[next].written == ":");
        if (*s.attribute && forward) {
          context_ = s.attribute, context_role_ = s.forward;
        } else if (*s.attribute && adjacent_ && !items_.empty() && items_.back().backward_hint.empty()) {
          items_.back().backward_hint = s.attribute;
          items_.back().backward_role = s.backward;
        }
        adjacent_ = false;
        continue;
      }
      const LexiconEntry& e = *piece.entry;
      // A part word: "상의에서" in the template, or one without an attribute reading ("하의는"). 원피스 alone is the
      // category 드레스, whose part is 원피스 anyway.
      if (!e.part.empty() && (e.matches.empty() || ending.substr(0, 6) == "에서")) {
        if (first_part_.empty()) first_part_ = e.part;
        other_part_ = e.part != first_part_;
        adjacent_ = false;
        continue;
      }
      if (e.matches.empty()) {  // a filler
        out_.ignored.push_back(written);
        continue;
      }
      Item item;
      item.written = written;
      item.readings = e.matches;
      item.forward_hint = context_;
      item.forward_role = context_role_;
      item.clause = clause_;
      item.other_part = other_part_;
      items_.push_back(std::move(item));
      adjacent_ = true;
    }
  }

  void ignore(Item& item) {
    item.used = true;
    out_.ignored.push_back(item.written);
  }

  void resolve() {
    for (Item& item : items_) {
      if (item.other_part) ignore(item);
      const std::string& h = item.hint();
      if (!h.empty() && item.reading(h))
        std::erase_if(item.readings, [&](const auto& r) { return r.attribute != h; });
    }
    resolve_category();
    resolve_colours();
    for (Item& item : items_) {
      if (item.used) continue;
      item.used = true;
      const LexiconMatch* pick = nullptr;
      for (const char* attribute : kReadingPriority) {
        const LexiconMatch* r = item.reading(attribute);
        if (r && !pick) pick = r;
        if (r && (kfashion::is_list_attribute(attribute) || !values_.count(attribute))) {
          pick = r;
          break;
        }
      }
      if (!pick) pick = &item.readings.front();
      if (!add(pick->attribute, pick->value)) out_.ignored.push_back(item.written);
    }
    assume();
    for (const char* attribute : kAttributeOrder) {
      auto it = values_.find(attribute);
      if (it != values_.end() && !it->second.empty())
        out_.garment.attributes.push_back({attribute, it->second, kfashion::is_list_attribute(attribute)});
    }
    out_.garment.name = !first_part_.empty() ? first_part_ : lex_.part_of(out_.garment.first_value("카테고리"));
  }

  // The lexicon's assumed values, for a garment the prompt names (by any attribute or part) without them. A second
  // colour is the colour of a print, so it keeps an unnamed print unknown rather than plain.
  void assume() {
    auto named = [&](const std::string& attribute) {
      auto it = values_.find(attribute);
      return it != values_.end() && !it->second.empty();
    };
    const bool garment = !first_part_.empty() ||
                         std::any_of(values_.begin(), values_.end(), [](const auto& kv) { return !kv.second.empty(); });
    if (!garment) return;
    for (const auto& [attribute, value] : lex_.assumed()) {
      if (named(attribute) || (attribute == "프린트" && named("서브색상"))) continue;
      values_[attribute].push_back(value);
      out_.assumed.push_back(attribute);
    }
  }

  // Korean puts the head noun last ("니트 원피스" is a dress, "패딩 조끼" a vest): the last word that can be a
  // category is the category, unless one follows "카테고리는". The others keep their other readings (니트 -> 소재).
  void resolve_category() {
    Item* head = nullptr;
    bool named = false;
    for (Item& item : items_) {
      if (item.used || !item.reading("카테고리")) continue;
      const bool is_named = item.hint() == "카테고리";
      if (is_named || !named) head = &item;
      named = named || is_named;
    }
    if (!head) return;
    add("카테고리", head->reading("카테고리")->value);
    head->used = true;
    for (Item& item : items_) {
      if (item.used || !item.reading("카테고리")) continue;
      std::erase_if(item.readings, [](const auto& r) { return r.attribute == "카테고리"; });
      if (item.readings.empty()) ignore(item);
    }
  }

  // The first colour is the main one and a second distinct one the sub-colour, except that a colour named as such
  // (바탕, 서브색상, 포인트) keeps its role, and a colour right before a print word is the print's colour when the
  // prompt has another colour ("레드 줄무늬 네이비 셔츠": 레드 is the sub-colour).
  void resolve_colours() {
    std::vector<Item*> colours;
    for (Item& item : items_)
      if (!item.used && item.reading("색상")) colours.push_back(&item);
    std::string main, sub;
    auto place = [&](Item& item, Role role) {
      const std::string& v = item.reading("색상")->value;
      item.used = true;
      if (v == main || v == sub) return;
      std::string& slot = role == kSub ? (sub.empty() ? sub : main) : (main.empty() ? main : sub);
      if (slot.empty()) slot = v;
      else out_.ignored.push_back(item.written);
    };
    for (Item* item : colours)
      if (item->role()) place(*item, item->role());
    for (size_t c = 0; c < colours.size(); ++c) {
      Item& item = *colours[c];
      if (item.used) continue;
      const std::string& v = item.reading("색상")->value;
      bool other_colour = !main.empty() && main != v;
      for (const Item* o : colours) other_colour = other_colour || o->reading("색상")->value != v;
      place(item, sub.empty() && other_colour && before_print(item) ? kSub : kMain);
    }
    if (!main.empty()) add("색상", main);
    if (!sub.empty()) add("서브색상", sub);
  }

  bool before_print(const Item& item) const {
    const Item* next = nullptr;
    for (size_t i = 0; i + 1 < items_.size() && !next; ++i)
      if (&items_[i] == &item) next = &items_[i + 1];
    if (!next || next->clause != item.clause) return false;
    return next->reading("프린트") != nullptr;
  }

  // False when a scalar attribute already holds another value.
  bool add(const std::string& attribute, const std::string& value) {
    auto& values = values_[attribute];
    if (std::find(values.begin(), values.end(), value) != values.end()) return true;
    if (!values.empty() && !kfashion::is_list_attribute(attribute)) return false;
    values.push_back(value);
    return true;
  }

  const Lexicon& lex_;
  std::vector<Token> tokens_;
  std::vector<Item> items_;
  ParsedPrompt out_;
  std::unordered_map<std::string, std::vector<std::string>> values_;
  std::string context_;  // the attribute named with 은/는 earlier in the sentence ("색상은 ...")
  Role context_role_ = kNoRole;
  size_t clause_ = 0;
  std::string first_part_;  // the first part named; words about another part are ignored
  bool other_part_ = false;
  bool adjacent_ = false;  // the last thing read was a value item (a following structure word refers back to it)
};

}  // namespace

nlohmann::ordered_json ParsedPrompt::to_json() const {
  nlohmann::ordered_json attributes = nlohmann::ordered_json::object();
  for (const auto& a : garment.attributes) {
    if (a.is_list) attributes[a.name] = a.values;
    else attributes[a.name] = a.values.front();
  }
  return {{"part", garment.name.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(garment.name)},
          {"attributes", std::move(attributes)},
          {"assumed", assumed},
          {"unrecognized", unrecognized},
          {"ignored", ignored}};
}

ParsedPrompt parse_prompt(std::string_view text, const Lexicon& lexicon) { return PromptParser(lexicon).parse(text); }

std::string understood_caption(const ParsedPrompt& parsed, const std::vector<std::string>& learnt) {
  if (parsed.garment.name.empty()) return "";
  auto was_learnt = [&](const std::string& attribute) {
    const std::string& name = attribute == "서브색상" ? std::string("색상") : attribute;
    return learnt.empty() || std::find(learnt.begin(), learnt.end(), name) != learnt.end();
  };
  kfashion::Part part{parsed.garment.name, {}, std::nullopt};
  for (const auto& attribute : parsed.garment.attributes)
    if (attribute.name != "스타일" && was_learnt(attribute.name)) part.attributes.push_back(attribute);
  return template_caption(part);
}

}  // namespace couture
