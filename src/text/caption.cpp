#include "text/caption.h"

#include <algorithm>

namespace couture::kfashion {
namespace {

// The code point of the last UTF-8 character, or -1.
int32_t last_code_point(std::string_view s) {
  if (s.empty()) return -1;
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  auto b = [&](size_t i) { return int32_t(static_cast<unsigned char>(s[i])); };
  size_t n = s.size() - start;
  if (n == 1) return b(start) < 0x80 ? b(start) : -1;
  if (n == 2) return ((b(start) & 0x1F) << 6) | (b(start + 1) & 0x3F);
  if (n == 3) return ((b(start) & 0x0F) << 12) | ((b(start + 1) & 0x3F) << 6) | (b(start + 2) & 0x3F);
  if (n == 4)
    return ((b(start) & 0x07) << 18) | ((b(start + 1) & 0x3F) << 12) | ((b(start + 2) & 0x3F) << 6) |
           (b(start + 3) & 0x3F);
  return -1;
}

bool wanted(const Part& part, const std::vector<std::string>& only) {
  return only.empty() || std::find(only.begin(), only.end(), part.name) != only.end();
}

void append_sentence(std::string& out, const std::string& sentence) {
  if (sentence.empty()) return;
  if (!out.empty()) out += ' ';
  out += sentence;
}

}  // namespace

bool has_final_consonant(std::string_view word) {
  int32_t cp = last_code_point(word);
  return cp >= 0xAC00 && cp <= 0xD7A3 && (cp - 0xAC00) % 28 != 0;
}

const char* topic_particle(std::string_view word) { return has_final_consonant(word) ? "은" : "는"; }

std::string attribute_sentence(const std::string& part, const Attribute& attribute, CaptionCompat compat) {
  if (attribute.values.empty()) return "";
  std::string value;
  if (attribute.is_list && compat == CaptionCompat::kodalle) {
    value = attribute.values.back();
  } else {
    for (size_t i = 0; i < attribute.values.size(); ++i) value += (i ? ", " : "") + attribute.values[i];
  }
  const char* particle = attribute.is_list ? "에는" : topic_particle(attribute.name);
  return part + "에서 " + attribute.name + particle + " " + value + "이다.";
}

std::string full_caption(const Label& label, const CaptionOptions& options, const std::vector<std::string>& only) {
  std::string out;
  for (const auto& part : label.parts) {
    if (!wanted(part, only) || (part.is_style() && !options.keep_style)) continue;
    for (const auto& attribute : part.attributes) append_sentence(out, attribute_sentence(part.name, attribute, options.compat));
  }
  return out;
}

std::string short_caption(const Label& label, const std::vector<std::string>& only) {
  std::string out;
  for (const auto& part : label.parts) {
    if (!wanted(part, only)) continue;
    if (part.is_style()) {
      if (!only.empty()) continue;
      std::string style = part.first_value("스타일");
      if (!style.empty()) append_sentence(out, part.name + topic_particle(part.name) + " " + style + "이다.");
      continue;
    }
    std::string colour = part.first_value("색상"), category = part.first_value("카테고리");
    std::string head = part.name + topic_particle(part.name) + " ";
    if (!colour.empty() && !category.empty())
      append_sentence(out, head + colour + " 색상의 " + category + "이다.");
    else if (!category.empty())
      append_sentence(out, head + category + "이다.");
    else if (!colour.empty())
      append_sentence(out, head + colour + " 색상이다.");
  }
  return out;
}

}  // namespace couture::kfashion
