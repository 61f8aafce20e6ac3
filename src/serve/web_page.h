// The studio page of `couture serve`: web/studio.html, studio.css and studio.js, compiled into the binary by CMake
// (couture_embed in CMakeLists.txt), so there are no files to install or to find at run time. Three resources, so
// that the page runs under a strict Content-Security-Policy. The page reads what the server owns (limits, sampling
// defaults, pickers and their caption sentences, the palette) from GET /v1/config.
#pragma once
#include <string_view>

namespace couture {

std::string_view studio_html();
std::string_view studio_css();
std::string_view studio_js();
std::string_view openapi_json();  // web/openapi.json: GET /openapi.json

}  // namespace couture
