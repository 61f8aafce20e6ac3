#include "nn/threads.h"

#include <unistd.h>

#include <cstdlib>

#include "core/threads.h"

namespace couture {

void init_torch_threads(int n) {
  register_thread_setter([](int count) { at::set_num_threads(count); });
  set_threads(n);
}

void exec_with_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default policy
}

}  // namespace couture
