#include "text/bert_pretokenizer.h"

#include <array>

#include "text/unicode.h"

namespace couture {
namespace {

class Splitter {
 public:
  Splitter(const NormalizerConfig& config, PreTokenized& out)
      : config_(config), out_(out), word_start_(out.text.size()) {}

  // One input character; `raw` is its UTF-8 text (empty for a replacement of invalid bytes).
  void add(char32_t cp, uint8_t cls, std::string_view raw) {
    if (config_.clean_text && (cls & (unicode::kOther | unicode::kNulOrFffd))) return;
    if (cls & unicode::kWhitespace) return end_word();
    if (config_.handle_chinese_chars && (cls & unicode::kCjk)) {
      end_word();
      transform(cp, cls, raw);
      return end_word();
    }
    transform(cp, cls, raw);
  }

  void end_word() {
    const size_t size = out_.text.size();
    if (size > word_start_) out_.words.push_back(Word{word_start_, size - word_start_, chars_});
    word_start_ = size;
    chars_ = 0;
  }

  // The common case, an ASCII letter or digit: appended as is.
  void add_plain_ascii(char c) {
    out_.text.push_back(c);
    ++chars_;
  }

 private:
  // Accent stripping (NFD, then drop Mn) and lower-casing, in the normaliser's order.
  void transform(char32_t cp, uint8_t cls, std::string_view raw) {
    if (!config_.strip_accents && !config_.lowercase) return split(cp, cls, raw);
    std::array<char32_t, 32> pieces;
    size_t n = 1;
    pieces[0] = cp;
    if (config_.strip_accents) n = unicode::decompose(cp, pieces.data(), pieces.size());
    for (size_t k = 0; k < n; ++k) {
      char32_t piece = pieces[k];
      if (config_.strip_accents && (unicode::classify(piece) & unicode::kMark)) continue;
      if (config_.lowercase) piece = unicode::to_lower(piece);
      split(piece, unicode::classify(piece), {});
    }
  }

  // The pre-tokenizer: whitespace ends a word, punctuation is a word of its own.
  void split(char32_t cp, uint8_t cls, std::string_view raw) {
    if (cls & unicode::kWhitespace) return end_word();
    const bool punct = cls & unicode::kPunctuation;
    if (punct) end_word();
    if (raw.empty()) {
      utf8::append(out_.text, cp);
    } else {
      out_.text.append(raw);
    }
    ++chars_;
    if (punct) end_word();
  }

  const NormalizerConfig& config_;
  PreTokenized& out_;
  size_t word_start_;
  size_t chars_ = 0;
};

bool is_plain_ascii(unsigned char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

}  // namespace

void pre_tokenize(std::string_view text, const NormalizerConfig& config, PreTokenized& out) {
  Splitter splitter(config, out);
  const bool plain_fast_path = !config.lowercase;  // letters pass unchanged unless lower-cased
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (plain_fast_path && is_plain_ascii(b)) {
      splitter.add_plain_ascii(char(b));
      ++i;
      continue;
    }
    const size_t start = i;
    const char32_t cp = utf8::next(text, i);
    std::string_view raw = text.substr(start, i - start);
    if (cp == utf8::kReplacement && raw != "\xEF\xBF\xBD") raw = {};  // invalid bytes: write U+FFFD itself
    splitter.add(cp, unicode::classify(cp), raw);
  }
  splitter.end_word();
}

}  // namespace couture
