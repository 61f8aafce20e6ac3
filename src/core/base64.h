// Base64 (RFC 4648, standard alphabet, '=' padding) for images sent inside JSON requests.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace couture {

std::string base64_encode(std::string_view bytes);

// The bytes, or nothing when `text` is not base64 (a character outside the alphabet, bad padding or length).
// A "data:...;base64," prefix (what a browser's FileReader gives) is skipped; whitespace is not allowed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace couture
