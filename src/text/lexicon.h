// The domain lexicon: for each K-Fashion label value, the words Korean designers write for it ("빨간", "빨강",
// "레드" for 색상 레드; "땡땡이", "물방울" for 프린트 도트), which part each category belongs to, adnominal
// modifiers ("빨간" stands only before a noun) and filler words that carry no attribute. Read from a
// user-extendable JSON file (data/lexicon/ko-fashion.json, format in docs/text.md); the default copy is compiled in.
// Used by the caption variant generator (training captions as people write them) and the prompt parser.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace couture {

struct LexiconMatch {
  std::string attribute;  // 색상, 카테고리, 프린트, ... (서브색상 shares 색상's words)
  std::string value;      // the canonical label value (a spelling variant such as 레깅스 resolves to 래깅스)
  bool operator==(const LexiconMatch&) const = default;
};

// Everything one word means: at most one value per attribute, a part name, or a filler.
struct LexiconEntry {
  std::vector<LexiconMatch> matches;
  std::string part;  // the garment part a part word names (윗옷 -> 상의)
  bool filler = false;
};

// The lookup key of a word: NFC, ASCII lower-cased, whitespace removed ("스카이 블루" and "스카이블루" are one key,
// as are "Navy" and "navy"). Expects valid UTF-8.
std::string lexicon_key(std::string_view word);

class Lexicon {
 public:
  // couture::InputError naming the file and the problem (see docs/text.md).
  static Lexicon load(const std::filesystem::path& file);
  static Lexicon from_json(std::string_view bytes, const std::string& source);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& attributes() const { return attributes_; }  // file order
  // The canonical values of an attribute that have words, in file order.
  const std::vector<std::string>& values(std::string_view attribute) const;
  // A spelling variant's canonical value (노말 -> 노멀); any other value unchanged. 서브색상 reads 색상.
  std::string canonical(std::string_view attribute, std::string_view value) const;
  // The words listed for a value (or its canonical value), in file order; empty when none. These are what the caption
  // generator writes; the parser also accepts every value's label itself.
  const std::vector<std::string>& words(std::string_view attribute, std::string_view value) const;
  // What a word means (any spelling: NFC, case and spaces do not matter); nullptr when it is not in the lexicon.
  const LexiconEntry* lookup(std::string_view word) const { return find_key(lexicon_key(word)); }
  const LexiconEntry* find_key(std::string_view key) const;
  size_t max_key_bytes() const { return max_key_bytes_; }

  // 상의, 하의, 아우터 or 원피스 for a category value (any spelling); "" when the lexicon does not say.
  std::string part_of(std::string_view category) const;
  const std::vector<std::string>& part_words(std::string_view part) const;
  const std::vector<std::string>& fillers() const { return fillers_; }
  // True for words that stand only before a noun ("빨간", "짧은"), never alone or before a particle.
  bool is_modifier(std::string_view word) const { return modifiers_.count(lexicon_key(word)) > 0; }
  // (attribute, value) pairs a prompt means when it names a garment but no value of the attribute ("assumed" in the
  // file): 남색 셔츠 is a plain navy shirt (프린트 무지), as K-Fashion labels it and as the training captions,
  // which always name a print that shows, taught the models.
  const std::vector<std::pair<std::string, std::string>>& assumed() const { return assumed_; }

 private:
  std::string source_;
  std::vector<std::string> attributes_;
  std::unordered_map<std::string, std::vector<std::string>> values_;  // attribute -> canonical values
  std::unordered_map<std::string, std::vector<std::string>> words_;   // attribute \x1f value -> words
  std::unordered_map<std::string, std::string> canonical_;            // attribute \x1f variant -> value
  std::unordered_map<std::string, LexiconEntry> entries_;             // key -> meaning
  std::unordered_map<std::string, std::string> category_part_;        // canonical category -> part
  std::unordered_map<std::string, std::vector<std::string>> part_words_;
  std::vector<std::string> fillers_;
  std::unordered_set<std::string> modifiers_;  // keys
  std::vector<std::pair<std::string, std::string>> assumed_;
  size_t max_key_bytes_ = 0;

  friend class LexiconBuilder;
};

// data/lexicon/ko-fashion.json as compiled into the library, parsed once.
const Lexicon& default_lexicon();

}  // namespace couture
