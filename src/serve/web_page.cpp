#include "serve/web_page.h"

#include <cstddef>

namespace couture {
namespace embedded {  // generated from web/ by couture_embed (CMakeLists.txt)
extern const unsigned char studio_html[], studio_css[], studio_js[], openapi_json[];
extern const size_t studio_html_size, studio_css_size, studio_js_size, openapi_json_size;
}  // namespace embedded

namespace {
std::string_view text(const unsigned char* bytes, size_t size) { return {reinterpret_cast<const char*>(bytes), size}; }
}  // namespace

std::string_view studio_html() { return text(embedded::studio_html, embedded::studio_html_size); }
std::string_view studio_css() { return text(embedded::studio_css, embedded::studio_css_size); }
std::string_view studio_js() { return text(embedded::studio_js, embedded::studio_js_size); }
std::string_view openapi_json() { return text(embedded::openapi_json, embedded::openapi_json_size); }

}  // namespace couture
