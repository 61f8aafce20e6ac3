// Inference-time GroupNorm (+ SiLU) for the VQGAN's hot path: two passes over the data instead of the five to ten
// that LibTorch 1.13's ops take (type conversions, normalisation, sigmoid, multiply), for F32 and BF16 tensors in
// NCHW or channels-last layout on the CPU. Statistics are accumulated in F32 per chunk and combined in F64.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace couture {

// True when fused_group_norm handles `x`: a CPU tensor of F32 or BF16, 4-D, contiguous or channels-last
// contiguous, with C divisible by `groups`.
bool fused_group_norm_supports(const at::Tensor& x, int64_t groups);

// group_norm(x, groups, weight, bias, eps), followed by SiLU when `silu`, in x's type and layout. Not
// differentiable (for use without autograd).
at::Tensor fused_group_norm(const at::Tensor& x, int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                            double eps, bool silu);

}  // namespace couture
