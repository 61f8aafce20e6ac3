#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace couture::log {
namespace {
std::atomic<bool> g_quiet{false};
std::mutex g_mutex;
}  // namespace

void set_quiet(bool q) { g_quiet = q; }
bool quiet() { return g_quiet; }

void info(const std::string& message) {
  if (g_quiet) return;
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s\n", message.c_str());
}

void warn(const std::string& message) {
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "couture: warning: %s\n", message.c_str());
}

}  // namespace couture::log
