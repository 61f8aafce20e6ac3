// Minimal logging to stderr: info lines, warnings, and a switch for quiet runs (tests, the server).
#pragma once
#include <string>

namespace couture::log {

void set_quiet(bool quiet);
bool quiet();
void info(const std::string& message);
void warn(const std::string& message);

}  // namespace couture::log
