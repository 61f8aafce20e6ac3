// UTF-8 decoding with replacement and the character classes of BERT's normaliser and pre-tokenizer.
#include <gtest/gtest.h>

#include "text/unicode.h"

namespace {
using namespace couture;

std::u32string decode_all(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) out.push_back(utf8::next(s, i));
  return out;
}

TEST(TextUnicode, DecodesValidUtf8) {
  EXPECT_EQ(decode_all("a\xC3\xA9\xEC\x83\x81\xF0\x9F\x98\x80"), (std::u32string{U'a', 0xE9, 0xC0C1, 0x1F600}));
  std::string out;
  for (char32_t cp : {U'a', char32_t(0xE9), char32_t(0xC0C1), char32_t(0x1F600)}) utf8::append(out, cp);
  EXPECT_EQ(out, "a\xC3\xA9\xEC\x83\x81\xF0\x9F\x98\x80");
}

// As Python's bytes.decode(errors="replace"): one U+FFFD per maximal invalid subpart.
TEST(TextUnicode, ReplacesInvalidSequencesLikePython) {
  const char32_t R = utf8::kReplacement;
  EXPECT_EQ(decode_all("\x80"), (std::u32string{R}));
  EXPECT_EQ(decode_all("\xC0\xAF"), (std::u32string{R, R}));                // overlong
  EXPECT_EQ(decode_all("\xED\xA0\x80"), (std::u32string{R, R, R}));         // a surrogate
  EXPECT_EQ(decode_all("\xF4\x90\x80\x80"), (std::u32string{R, R, R, R}));  // above U+10FFFF
  EXPECT_EQ(decode_all("\xEC\x83"), (std::u32string{R}));                   // truncated: one replacement
  EXPECT_EQ(decode_all("\xEC\x83" "a"), (std::u32string{R, U'a'}));
  EXPECT_EQ(decode_all("\xF0\x9F\x98"), (std::u32string{R}));
  EXPECT_EQ(decode_all("\xFF" "b"), (std::u32string{R, U'b'}));
  EXPECT_EQ(utf8::sanitize("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_TRUE(utf8::is_valid("\xEF\xBF\xBD"));  // a real U+FFFD is valid text
  EXPECT_FALSE(utf8::is_valid("\xC3"));
  EXPECT_EQ(utf8::count_chars("상의 a"), 4u);
}

TEST(TextUnicode, ClassesFollowHuggingFaceBert) {
  using namespace unicode;
  EXPECT_EQ(classify(U'가'), 0);
  EXPECT_EQ(classify(U'a'), 0);
  EXPECT_TRUE(classify(U' ') & kWhitespace);
  EXPECT_TRUE(classify(U'\t') & kWhitespace);
  EXPECT_FALSE(classify(U'\t') & kOther);  // \t \n \r are whitespace, never dropped
  EXPECT_TRUE(classify(0x3000) & kWhitespace);  // ideographic space
  EXPECT_TRUE(classify(0x2028) & kWhitespace);  // line separator: White_Space, as Rust's char::is_whitespace
  EXPECT_TRUE(classify(0x07) & kOther);
  EXPECT_TRUE(classify(0x200B) & kOther);  // zero-width space is Cf: dropped by clean_text
  EXPECT_TRUE(classify(0xE000) & kOther);  // private use
  EXPECT_TRUE(classify(0) & kNulOrFffd);
  EXPECT_TRUE(classify(0xFFFD) & kNulOrFffd);
  for (char32_t c : {U'!', U'/', U':', U'@', U'[', U'`', U'{', U'~', U'$', U'^', U'+'}) {
    EXPECT_TRUE(classify(c) & kPunctuation) << int(c);  // all ASCII non-alphanumerics count, even S* ones
  }
  EXPECT_TRUE(classify(0x3002) & kPunctuation);   // 。
  EXPECT_TRUE(classify(0x00BF) & kPunctuation);   // ¿
  EXPECT_FALSE(classify(0x1F600) & kPunctuation);  // emoji are symbols, part of a word
  EXPECT_TRUE(classify(U'中') & kCjk);
  EXPECT_TRUE(classify(0xF900) & kCjk);
  EXPECT_FALSE(classify(U'가') & kCjk);  // Hangul is written with spaces and is not split
  EXPECT_FALSE(is_cjk_ideograph(0x2B820));  // tokenizers' list starts this range at 0x2B920
  EXPECT_TRUE(is_cjk_ideograph(0x2B920));
  EXPECT_TRUE(classify(0x0301) & kMark);
}

TEST(TextUnicode, DecomposesAndLowercases) {
  char32_t out[8];
  ASSERT_EQ(unicode::decompose(0xE9, out, 8), 2u);  // é -> e + U+0301
  EXPECT_EQ(out[0], U'e');
  EXPECT_EQ(out[1], char32_t(0x301));
  EXPECT_EQ(unicode::decompose(U'a', out, 8), 1u);
  EXPECT_EQ(unicode::to_lower(U'A'), U'a');
  EXPECT_EQ(unicode::to_lower(U'가'), U'가');
}

}  // namespace
