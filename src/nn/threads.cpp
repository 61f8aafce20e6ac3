#include "nn/threads.h"

#include "core/threads.h"

namespace couture {

void init_torch_threads(int n) {
  register_thread_setter([](int count) { at::set_num_threads(count); });
  set_threads(n);
}

}  // namespace couture
