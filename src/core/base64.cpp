#include "core/base64.h"

#include <array>
#include <cstdint>

namespace couture {

namespace {
constexpr const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t g = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) g |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) g |= uint8_t(bytes[i + 2]);
    out += kAlphabet[g >> 18 & 63];
    out += kAlphabet[g >> 12 & 63];
    out += i + 1 < bytes.size() ? kAlphabet[g >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[g & 63] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.substr(0, 5) == "data:") {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos)
      return std::nullopt;
    text.remove_prefix(comma + 1);
  }
  if (text.size() % 4 != 0) return std::nullopt;
  static const std::array<int8_t, 256> value = [] {
    std::array<int8_t, 256> v{};
    v.fill(-1);
    for (int i = 0; i < 64; ++i) v[uint8_t(kAlphabet[i])] = int8_t(i);
    return v;
  }();
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t group = 0;
    const bool last = i + 4 == text.size();
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      int8_t v = value[uint8_t(c)];
      if (c == '=' && last && k >= 4 - padding) v = 0;
      else if (v < 0) return std::nullopt;
      group = group << 6 | uint32_t(v);
    }
    out.push_back(char(group >> 16));
    if (!(last && padding == 2)) out.push_back(char(group >> 8 & 0xFF));
    if (!(last && padding >= 1)) out.push_back(char(group & 0xFF));
  }
  return out;
}

}  // namespace couture
