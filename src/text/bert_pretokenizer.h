// Hugging Face's BertNormalizer + BertPreTokenizer in one pass over UTF-8 bytes: invalid bytes become U+FFFD;
// clean_text drops U+0000, U+FFFD and C* characters (keeping \t \n \r) and turns whitespace into spaces; CJK
// ideographs get spaces around them; optional NFD + accent stripping and lower-casing; then words are split at
// whitespace and every punctuation character becomes a word of its own. The words are the WordPiece input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace couture {

struct Word {
  size_t offset = 0, bytes = 0;  // into PreTokenized::text
  size_t chars = 0;              // code points (for max_input_chars_per_word)
};

// Reusable output: normalised word bytes back to back, and the words over them.
struct PreTokenized {
  std::string text;
  std::vector<Word> words;
  std::string_view word(const Word& w) const { return std::string_view(text).substr(w.offset, w.bytes); }
  void clear() {
    text.clear();
    words.clear();
  }
};

// Appends the words of `text` to `out` (call clear() first for a fresh list). Stops at a word boundary once `out`
// holds max_words words and returns the bytes of `text` consumed; call again on the rest to continue.
size_t pre_tokenize(std::string_view text, const NormalizerConfig& config, PreTokenized& out,
                    size_t max_words = SIZE_MAX);

}  // namespace couture
