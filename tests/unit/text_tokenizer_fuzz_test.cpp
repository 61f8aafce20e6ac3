// Randomized robustness test: random bytes (invalid UTF-8, controls, NULs), random Hangul and mixed text, with
// special tokens sprinkled in, must never crash and must give well-formed encodings. Bounded by a fixed count and a
// fixed seed, so it runs the same in a second or two every time. (fuzz/text_tokenizer_fuzz.cpp is the open-ended
// libFuzzer version of the same checks.)
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "text/prompt_parse.h"
#include "text/unicode.h"
#include "text/wordpiece.h"

namespace {
using namespace couture;

// Every Hangul syllable of the first rows plus their ## forms, some punctuation, the specials.
Vocab fuzz_vocab() {
  std::string text = "[CLS]\n[PAD]\n[SEP]\n[UNK]\n[MASK]\n.\n,\n!\na\n##b\n";
  for (char32_t cp = 0xAC00; cp < 0xAC00 + 600; ++cp) {
    std::string s;
    utf8::append(s, cp);
    text += s + "\n##" + s + "\n";
  }
  return parse_vocab_txt(text, "fuzz vocab");
}

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng() & 0xFF);
  return s;
}

std::string random_mixed(std::mt19937_64& rng, size_t n) {
  static const char* pieces[] = {"[CLS]", "[PAD]", "[SEP]", "[MASK]", "[UNK", " ", "\t", "\n", ".", ",", "\xE2\x80\x8B",
                                 "\x07", "\xFF", "\xED\xA0\x80", "中", "😀", "a", "b", "ab", "\xEF\xBF\xBD", "\0"};
  std::string s;
  while (s.size() < n) {
    if (rng() % 3 == 0) {
      s += pieces[rng() % std::size(pieces)];
    } else {
      utf8::append(s, char32_t(0xAC00 + rng() % 700));  // some syllables beyond the vocabulary
    }
  }
  return s;
}

void check_encoding(const WordPieceTokenizer& t, const std::string& text, size_t max_len) {
  const Encoding e = t.encode(text, max_len);
  ASSERT_EQ(e.ids.size(), max_len);
  ASSERT_EQ(e.attention_mask.size(), max_len);
  ASSERT_EQ(e.ids.front(), t.cls_id());
  size_t real = 0;
  while (real < max_len && e.attention_mask[real]) ++real;
  for (size_t i = real; i < max_len; ++i) ASSERT_EQ(e.attention_mask[i], 0) << "mask not 1s then 0s";
  for (size_t i = real; i < max_len; ++i) ASSERT_EQ(e.ids[i], t.pad_id());
  ASSERT_GE(real, 2u);
  ASSERT_EQ(e.ids[real - 1], t.sep_id());
  for (int32_t id : e.ids) ASSERT_TRUE(id >= 0 && size_t(id) < t.vocab_size()) << id;

  // Truncation keeps a prefix of the untruncated pieces; invalid bytes behave as U+FFFD (both are dropped).
  const Encoding whole = t.encode(text);
  ASSERT_TRUE(std::equal(e.ids.begin(), e.ids.begin() + ptrdiff_t(real - 1), whole.ids.begin()));
  ASSERT_EQ(t.encode(utf8::sanitize(text)).ids, whole.ids);
  EXPECT_NO_THROW(t.decode(whole.ids));
}

TEST(TextTokenizerFuzz, RandomBytesAndHangulGiveWellFormedEncodings) {
  // klue's settings, then the other normaliser paths (lower-casing with accent stripping; no cleaning, no CJK split).
  std::vector<NormalizerConfig> configs = {NormalizerConfig{}, NormalizerConfig{true, true, true, true},
                                           NormalizerConfig{false, false, false, false}};
  std::mt19937_64 rng(20211227);
  for (const auto& config : configs) {
    Vocab vocab = fuzz_vocab();
    vocab.normalizer = config;
    const WordPieceTokenizer t(vocab);
    for (int i = 0; i < 8000; ++i) {
      const size_t n = rng() % 300;
      const std::string text = i % 3 == 0 ? random_bytes(rng, n) : random_mixed(rng, n);
      check_encoding(t, text, 2 + rng() % 80);
      if (HasFatalFailure()) {
        ADD_FAILURE() << "failing input (" << text.size() << " bytes, case " << i << ")";
        return;
      }
    }
  }
  const WordPieceTokenizer t(fuzz_vocab());
  size_t unknown_free = 0;
  // Hangul words within the vocabulary's syllables always segment: no [UNK].
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    for (size_t k = rng() % 60; k > 0; --k) {
      if (rng() % 5 == 0) text += ' ';
      utf8::append(text, char32_t(0xAC00 + rng() % 600));
    }
    const auto ids = t.encode(text).ids;
    unknown_free += std::count(ids.begin(), ids.end(), t.unk_id()) == 0;
  }
  EXPECT_EQ(unknown_free, 2000u);
}

TEST(TextTokenizerFuzz, LongInputIsRefusedOrHandled) {
  WordPieceTokenizer t(fuzz_vocab());
  std::mt19937_64 rng(7);
  std::string big = random_mixed(rng, WordPieceTokenizer::kDefaultMaxInputBytes);
  big.resize(WordPieceTokenizer::kDefaultMaxInputBytes);
  EXPECT_NO_THROW(t.encode(big, 64));  // at the cap: accepted
  big += "가";
  EXPECT_THROW(t.encode(big, 64), InputError);  // over it: a clear refusal
  t.set_max_input_bytes(1 << 22);
  const std::string word(1 << 21, 'a');  // one 2-MiB word: over 100 characters, so [UNK]
  EXPECT_EQ(t.encode(word).ids, (std::vector<int32_t>{t.cls_id(), t.unk_id(), t.sep_id()}));
  std::string hangul;
  for (int i = 0; i < 200000; ++i) utf8::append(hangul, char32_t(0xAC00 + i % 600));
  EXPECT_EQ(t.encode(hangul, 64).ids.size(), 64u);
}

// The prompt parser on the same inputs: valid UTF-8 always parses, invalid is one InputError, never a crash.
TEST(TextTokenizerFuzz, PromptParserTakesAnyBytes) {
  std::mt19937_64 rng(20240101);
  for (int i = 0; i < 6000; ++i) {
    const size_t n = rng() % 300;
    const std::string text = i % 3 == 0 ? random_bytes(rng, n) : random_mixed(rng, n);
    if (utf8::is_valid(text)) {
      EXPECT_NO_THROW(parse_prompt(text)) << "case " << i;
    } else {
      EXPECT_THROW(parse_prompt(text), InputError) << "case " << i;
    }
  }
}

}  // namespace
