// Thread count for LibTorch's intra-op pool (Debian's LibTorch defaults to 1 here) and for our own workers.
#pragma once

namespace couture {

// n <= 0: one per core. Applies to LibTorch when the program links it (registered by nn at start-up).
void set_threads(int n);
int threads();  // the count in force
int core_count();

// nn registers the LibTorch setter; core stays free of LibTorch.
using ThreadSetter = void (*)(int);
void register_thread_setter(ThreadSetter setter);

}  // namespace couture
