// UTF-8 decoding with replacement, and the character classes BERT's normalizer and pre-tokenizer need, as the
// Hugging Face `tokenizers` library (Rust) defines them. Categories come from libutf8proc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace couture::utf8 {

constexpr char32_t kReplacement = 0xFFFD;

inline bool is_continuation_byte(unsigned char b) { return (b & 0xC0) == 0x80; }

char32_t next_slow(std::string_view s, size_t& i);

// Decodes the code point starting at s[i] and advances i past it. An invalid or truncated sequence yields U+FFFD
// and advances past its maximal valid prefix (one byte at least), as Python's errors="replace" does; overlong
// forms, surrogates and values above U+10FFFF are invalid. Requires i < s.size(). Inline for ASCII and for the
// three-byte forms Hangul syllables take; everything else in next_slow.
inline char32_t next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  if (p[0] < 0x80) {
    ++i;
    return p[0];
  }
  // E1..EC and EE..EF take any continuation bytes; ED only up to 9F (above are surrogates).
  if (p[0] >= 0xE1 && p[0] <= 0xEF && i + 2 < s.size() && is_continuation_byte(p[1]) &&
      is_continuation_byte(p[2]) && (p[0] != 0xED || p[1] <= 0x9F)) {
    i += 3;
    return (char32_t(p[0] & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | char32_t(p[2] & 0x3F);
  }
  return next_slow(s, i);
}

void append(std::string& out, char32_t cp);  // cp must be a valid scalar value

// Invalid sequences replaced by U+FFFD (valid input is returned unchanged).
std::string sanitize(std::string_view s);
bool is_valid(std::string_view s);
size_t count_chars(std::string_view s);  // code points, invalid bytes counted as above

// Unicode NFC (decomposed Hangul jamo composed into syllables); ASCII and text utf8proc refuses come back unchanged.
std::string nfc(std::string_view s);
// Without leading and trailing ASCII spaces, tabs and line breaks.
std::string trim(std::string_view s);

}  // namespace couture::utf8

namespace couture::unicode {

// Class bits of one code point (several may be set).
enum CharClass : uint8_t {
  kOther = 1 << 0,       // general category C* (Cc Cf Cs Co Cn), except \t \n \r; BERT's clean_text drops these
  kNulOrFffd = 1 << 1,   // U+0000 and U+FFFD, dropped by clean_text as well
  kWhitespace = 1 << 2,  // the White_Space property plus \t \n \r (Rust's char::is_whitespace)
  kPunctuation = 1 << 3, // ASCII 33-47, 58-64, 91-96, 123-126, or general category P*
  kCjk = 1 << 4,         // a CJK ideograph in the ranges BERT isolates (tokenizers' exact list)
  kMark = 1 << 5,        // general category Mn, removed by strip_accents after NFD
};

namespace detail {
const uint8_t* bmp_classes();  // 64 KiB, built once
uint8_t compute_class(char32_t cp);
}  // namespace detail

// A table lookup for the BMP (Korean and ASCII text never leaves it), computed for the rest.
inline uint8_t classify(char32_t cp) {
  static const uint8_t* const table = detail::bmp_classes();
  return cp < 0x10000 ? table[cp] : detail::compute_class(cp);
}
bool is_cjk_ideograph(char32_t cp);

// Canonical decomposition (NFD) of one code point into out (up to `capacity`); returns the count written.
size_t decompose(char32_t cp, char32_t* out, size_t capacity);
char32_t to_lower(char32_t cp);  // simple case mapping

}  // namespace couture::unicode
