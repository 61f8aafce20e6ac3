// HTTP/1.1 messages for serve/http_server: parsing a request's head and the header helpers both sides use.
// Internal to src/serve.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "serve/http_server.h"

namespace couture::http {

constexpr size_t kMaxTarget = 8192;  // the request target; longer: 414
constexpr size_t kMaxHeaders = 100;  // more: 431

// A request the server refuses before any handler sees it: the status and what to tell the client.
struct Refusal {
  int status;
  std::string message;
};

// Parses a head (request line and headers, without the blank line) into `req` (method, target, decoded path,
// query, headers; an HTTP/1.0 request without keep-alive gets "Connection: close"). nullopt when it is well formed.
std::optional<Refusal> parse_head(std::string_view head, Request& req);

// A query string's fields ("q=%EC%85%94%EC%B8%A0&limit=10": '+' is a space, %XX decoded; the last of a repeated
// name wins). nullopt for a malformed escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

// `text` for a query string: everything but letters, digits and - . _ ~ as %XX.
std::string percent_encode(std::string_view text);

bool iequals(std::string_view a, std::string_view b);  // ASCII, case aside
std::string_view trim(std::string_view s);            // spaces and tabs at both ends
// Whether a comma-separated header value holds `token` (Connection: keep-alive, Expect: 100-continue).
bool has_token(std::string_view value, std::string_view token);
std::string header_of(const Headers& headers, std::string_view name);  // "" when absent
bool has(const Headers& headers, std::string_view name);

}  // namespace couture::http
