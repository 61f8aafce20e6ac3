// Start-up for programs that use LibTorch: hooks LibTorch's intra-op pool into couture::set_threads and applies
// `n` threads (0: one per core; Debian's LibTorch otherwise runs on 1).
#pragma once

namespace couture {

void init_torch_threads(int n = 0);

// libgomp (LibTorch's OpenMP) reads OMP_WAIT_POLICY once, when it loads, and by default spins its threads at every
// barrier: whenever another program holds a core, each parallel region then waits for a descheduled thread (measured
// here: training steps 10x slower at 2 threads on a busy 2-core machine). Call first thing in main: when the variable
// is unset it sets PASSIVE and re-executes the program with the same arguments; an explicit setting is respected.
void exec_with_passive_omp_wait(char** argv);

}  // namespace couture
