#include "nn/threads.h"

#include <dlfcn.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>

#include "core/threads.h"

namespace couture {

void init_torch_threads(int n) {
  register_thread_setter([](int count) { at::set_num_threads(count); });
  set_threads(n);
}

const char* blas_kernels_for_this_cpu() {
  using CoreName = char* (*)();
  auto core_name = reinterpret_cast<CoreName>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!core_name || ::strcasecmp(core_name(), "prescott") != 0) return nullptr;  // not OpenBLAS, or a known CPU
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

void exec_with_runtime_settings(char** argv) {
  bool changed = false;
  if (!std::getenv("OMP_WAIT_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (!std::getenv("OPENBLAS_CORETYPE")) {
    if (const char* kernels = blas_kernels_for_this_cpu()) {
      ::setenv("OPENBLAS_CORETYPE", kernels, 1);
      changed = true;
    }
  }
  if (changed) ::execv("/proc/self/exe", argv);  // returns only on failure: carry on as loaded
}

}  // namespace couture
