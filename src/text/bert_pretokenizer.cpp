#include "text/bert_pretokenizer.h"

#include <array>

#include "text/unicode.h"

namespace couture {
namespace {

// Writes normalised bytes into out.text, sized ahead to the input's length: copying a character's own bytes needs
// no check, and the rare rewriting paths (U+FFFD for invalid bytes, decomposition, lower-casing) grow the text by
// what they write, so room for the rest of the input always remains.
class Splitter {
 public:
  Splitter(const NormalizerConfig& config, PreTokenized& out, size_t input_bytes)
      : config_(config), out_(out), pos_(out.text.size()), word_start_(pos_) {
    out_.text.resize(pos_ + input_bytes + 8);
  }
  ~Splitter() { out_.text.resize(pos_); }

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
    if (pos_ > word_start_) out_.words.push_back(Word{word_start_, pos_ - word_start_, chars_});
    word_start_ = pos_;
    chars_ = 0;
  }

  // The common cases, an ASCII letter or digit or a character of no class (Hangul): copied as is.
  void add_plain(std::string_view raw) {
    char* dst = out_.text.data() + pos_;
    for (size_t k = 0; k < raw.size(); ++k) dst[k] = raw[k];
    pos_ += raw.size();
    ++chars_;
  }
  void add_plain(char c) {
    out_.text.data()[pos_++] = c;
    ++chars_;
  }
  bool in_word() const { return pos_ > word_start_; }

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
      std::string bytes;
      utf8::append(bytes, cp);
      out_.text.resize(out_.text.size() + bytes.size());  // keeps room for the rest of the input as well
      add_plain(bytes);
    } else {
      add_plain(raw);
    }
    if (punct) end_word();
  }

  const NormalizerConfig& config_;
  PreTokenized& out_;
  size_t pos_, word_start_;
  size_t chars_ = 0;
};

bool is_plain_ascii(unsigned char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

}  // namespace

size_t pre_tokenize(std::string_view text, const NormalizerConfig& config, PreTokenized& out, size_t max_words) {
  Splitter splitter(config, out, text.size());
  const bool plain_fast_path = !config.lowercase && !config.strip_accents;  // else letters may change
  size_t i = 0;
  while (i < text.size()) {
    if (out.words.size() >= max_words && !splitter.in_word()) return i;
    const auto b = static_cast<unsigned char>(text[i]);
    if (plain_fast_path && is_plain_ascii(b)) {
      splitter.add_plain(char(b));
      ++i;
      continue;
    }
    const size_t start = i;
    const char32_t cp = utf8::next(text, i);
    std::string_view raw = text.substr(start, i - start);
    const uint8_t cls = unicode::classify(cp);
    if (plain_fast_path && cls == 0) {
      splitter.add_plain(raw);
      continue;
    }
    if (cp == utf8::kReplacement && raw != "\xEF\xBF\xBD") raw = {};  // invalid bytes: write U+FFFD itself
    splitter.add(cp, cls, raw);
  }
  splitter.end_word();
  return i;
}

}  // namespace couture
