#include "serve/http_message.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

namespace couture::http {
namespace {

char lower_char(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool is_tchar(char c) {  // RFC 9110 token characters
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower_char(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// %XX escapes decoded; false for a malformed escape or a decoded NUL.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
    out += char(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

std::string percent_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> fields;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string pair(query.substr(0, amp));
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::replace(pair.begin(), pair.end(), '+', ' ');
    const size_t eq = pair.find('=');
    std::string name, value;
    if (!percent_decode(std::string_view(pair).substr(0, eq), name) ||
        (eq != std::string::npos && !percent_decode(std::string_view(pair).substr(eq + 1), value)))
      return std::nullopt;
    fields[name] = value;
  }
  return fields;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower_char(x) == lower_char(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Parses the head (request line and headers, without the blank line) into `req`.
std::optional<Refusal> parse_head(std::string_view head, Request& req) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    const size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  if (lines.empty()) return Refusal{400, "empty request"};
  const std::string_view line = lines[0];
  const size_t sp1 = line.find(' '), sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return Refusal{400, "malformed request line (expected METHOD /path HTTP/1.1)"};
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  if (req.method.empty() || !std::all_of(req.method.begin(), req.method.end(), is_tchar))
    return Refusal{400, "malformed request method"};
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.size() == 8 && version.substr(0, 5) == "HTTP/") return Refusal{505, "only HTTP/1.0 and 1.1 are served"};
    return Refusal{400, "malformed request line (expected METHOD /path HTTP/1.1)"};
  }
  if (req.target.size() > kMaxTarget) return Refusal{414, "the request URI is longer than 8192 bytes"};
  if (req.target.empty() || req.target[0] != '/' ||
      std::any_of(req.target.begin(), req.target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 32 || c == 127; }))
    return Refusal{400, "the request target must be a path starting with /"};
  const size_t question = req.target.find('?');
  if (!percent_decode(std::string_view(req.target).substr(0, question), req.path))
    return Refusal{400, "malformed %-escape in the request path"};
  if (question != std::string::npos) req.query = req.target.substr(question + 1);
  if (version == "HTTP/1.0") req.headers.push_back({"Connection", "close"});  // unless it asks to keep alive
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view h = lines[i];
    const size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(h.begin(), h.begin() + long(colon), is_tchar))
      return Refusal{400, "malformed header line " + std::to_string(i)};
    if (req.headers.size() >= kMaxHeaders) return Refusal{431, "more than 100 headers"};
    std::string name(h.substr(0, colon));
    std::string value(trim(h.substr(colon + 1)));
    if (version == "HTTP/1.0" && iequals(name, "Connection") && has_token(value, "keep-alive"))
      req.headers.erase(req.headers.begin());  // the implied "close" above
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  return std::nullopt;
}

std::string header_of(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

bool has(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& kv) { return iequals(kv.first, name); });
}

bool Request::has_header(std::string_view name) const { return has(headers, name); }
std::string Request::header(std::string_view name) const { return header_of(headers, name); }
bool Response::has_header(std::string_view name) const { return has(headers, name); }

void Response::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) {
      v = std::move(value);
      return;
    }
  headers.emplace_back(std::move(name), std::move(value));
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

}  // namespace couture::http
