#include "core/threads.h"

#include <atomic>
#include <thread>

namespace couture {
namespace {
std::atomic<int> g_threads{0};
std::atomic<ThreadSetter> g_setter{nullptr};
}  // namespace

int core_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

void register_thread_setter(ThreadSetter setter) { g_setter = setter; }

void set_threads(int n) {
  g_threads = n > 0 ? n : core_count();
  if (auto setter = g_setter.load()) setter(g_threads);
}

int threads() { return g_threads > 0 ? g_threads.load() : core_count(); }

}  // namespace couture
