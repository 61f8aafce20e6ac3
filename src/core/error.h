// couture::Error: the one exception type. Thrown inside, translated at the edge (main prints one line and exits 1,
// the server answers 4xx/5xx). Messages name the file, tensor, field or request and say what is wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace couture {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Bad input from a user (a file, a field, a request): a 4xx at the server.
class InputError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace couture

// COUTURE_CHECK(cond, "parts", of, "the message"): throws couture::Error with the concatenated message.
#define COUTURE_CHECK(cond, ...)                                              \
  do {                                                                        \
    if (!(cond)) throw ::couture::Error(::couture::detail::concat(__VA_ARGS__)); \
  } while (0)

#define COUTURE_CHECK_INPUT(cond, ...)                                             \
  do {                                                                             \
    if (!(cond)) throw ::couture::InputError(::couture::detail::concat(__VA_ARGS__)); \
  } while (0)
