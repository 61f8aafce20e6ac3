// Start-up for programs that use LibTorch: hooks LibTorch's intra-op pool into couture::set_threads and applies
// `n` threads (0: one per core; Debian's LibTorch otherwise runs on 1).
#pragma once

namespace couture {

void init_torch_threads(int n = 0);

// Settings two libraries read once, when they load; call first thing in main. When one needs setting it is set and
// the program re-executed with the same arguments; a setting already in the environment is respected.
// - OMP_WAIT_POLICY=PASSIVE: libgomp (LibTorch's OpenMP) by default spins its threads at every barrier, and
//   whenever another program holds a core each parallel region waits for a descheduled thread (measured here:
//   training steps 10x slower at 2 threads on a busy 2-core machine).
// - OPENBLAS_CORETYPE: Debian 12's OpenBLAS (0.3.21) picks its kernels by CPU model and falls back to "Prescott"
//   kernels, without AVX, on models newer than it knows (Emerald Rapids, family 6 model 207): fp32 GEMM ran at 35
//   instead of 236 GFLOP/s on such a 2-core machine. Then the kernels of the newest instruction set the CPU has
//   are named (blas_kernels_for_this_cpu).
void exec_with_runtime_settings(char** argv);

// The OPENBLAS_CORETYPE to set on this CPU: SkylakeX or Haswell when the loaded OpenBLAS fell back to Prescott
// kernels on a CPU with AVX-512 or AVX2; nullptr otherwise (also when the BLAS is not OpenBLAS).
const char* blas_kernels_for_this_cpu();

}  // namespace couture
