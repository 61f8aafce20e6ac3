// Runs a shell command, capturing stdout and stderr together, for end-to-end tests of the binary.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace couture::testing {

struct CommandResult {
  int status = -1;  // exit code, or -1 when killed by a signal
  std::string output;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

// Lines in a text file (metrics.jsonl, logs): 0 when it does not exist.
inline int count_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// The last line of a command's output that starts with '{', parsed (the summary line most commands print).
inline nlohmann::json last_json_line(const std::string& output) {
  std::istringstream in(output);
  std::string found;
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] == '{') found = l;
  return nlohmann::json::parse(found);
}

}  // namespace couture::testing
