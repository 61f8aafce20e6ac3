#include "text/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>

namespace couture::utf8 {

char32_t next_slow(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char b0 = p[i];
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  // Length and the valid range of the second byte (which excludes overlongs, surrogates and > U+10FFFF).
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    ++i;  // a continuation byte or a byte that never starts a sequence
    return kReplacement;
  }
  char32_t cp = b0 & (0xFF >> (len + 1));
  size_t j = i + 1;
  for (int k = 1; k < len; ++k, ++j) {
    const bool ok = j < n && (k == 1 ? (p[j] >= lo && p[j] <= hi) : is_continuation_byte(p[j]));
    if (!ok) {
      i = j;  // the maximal valid prefix becomes one replacement character
      return kReplacement;
    }
    cp = (cp << 6) | (p[j] & 0x3F);
  }
  i = j;
  return cp;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

bool is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    if (next(s, i) == kReplacement && !(i - start == 3 && s.substr(start, 3) == "\xEF\xBF\xBD")) return false;
  }
  return true;
}

std::string sanitize(std::string_view s) {
  if (is_valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) append(out, next(s, i));
  return out;
}

size_t count_chars(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++count) next(s, i);
  return count;
}

std::string nfc(std::string_view s) {
  std::string in(s);
  if (std::all_of(in.begin(), in.end(), [](char c) { return (unsigned char)c < 0x80; })) return in;
  utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(in.c_str()));
  if (!out) return in;
  std::string result(reinterpret_cast<char*>(out));
  std::free(out);
  return result;
}

std::string trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace couture::utf8

namespace couture::unicode {

bool is_cjk_ideograph(char32_t cp) {
  // tokenizers' list (normalizers/bert.rs), which starts Extension E at 0x2B920 where Google's BERT has 0x2B820.
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

namespace {

bool is_white_space_property(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_ascii_punctuation(char32_t cp) {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

}  // namespace

namespace detail {

uint8_t compute_class(char32_t cp) {
  const auto category = utf8proc_category(utf8proc_int32_t(cp));
  uint8_t c = 0;
  const bool is_c = category == UTF8PROC_CATEGORY_CN || category >= UTF8PROC_CATEGORY_CC;
  if (is_c && cp != '\t' && cp != '\n' && cp != '\r') c |= kOther;
  if (cp == 0 || cp == 0xFFFD) c |= kNulOrFffd;
  if (is_white_space_property(cp)) c |= kWhitespace;
  if (is_ascii_punctuation(cp) || (category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO)) {
    c |= kPunctuation;
  }
  if (is_cjk_ideograph(cp)) c |= kCjk;
  if (category == UTF8PROC_CATEGORY_MN) c |= kMark;
  return c;
}

const uint8_t* bmp_classes() {
  static const auto table = [] {
    auto t = std::make_unique<std::array<uint8_t, 0x10000>>();
    for (char32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = compute_class(cp);
    return t;
  }();
  return table->data();
}

}  // namespace detail

size_t decompose(char32_t cp, char32_t* out, size_t capacity) {
  int last_boundclass = 0;
  const auto n = utf8proc_decompose_char(utf8proc_int32_t(cp), reinterpret_cast<utf8proc_int32_t*>(out),
                                         utf8proc_ssize_t(capacity), UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n < 0 || size_t(n) > capacity) {  // cannot happen for a canonical decomposition of a scalar value
    if (capacity > 0) out[0] = cp;
    return capacity > 0 ? 1 : 0;
  }
  return size_t(n);
}

char32_t to_lower(char32_t cp) { return char32_t(utf8proc_tolower(utf8proc_int32_t(cp))); }

}  // namespace couture::unicode
