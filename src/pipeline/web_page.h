// The studio page of `couture serve`, compiled into the binary (no files to install or to find at run time):
// Korean UI, attribute pickers that write the K-Fashion caption template (DESIGN.md), a 200-character counter,
// Ctrl/Cmd+Enter, progress from server-sent events, the top candidates with scores, variations, PNG download and
// the session's history. Served as three resources so the page runs under a strict Content-Security-Policy.
#pragma once
#include <string_view>

namespace couture {

std::string_view studio_html();
std::string_view studio_css();
std::string_view studio_js();

}  // namespace couture
