// A linear layer for inference whose weight is reordered once, at load, into the blocked layout oneDNN's matmul
// kernels read (LibTorch 1.13's at::linear reorders a plain bf16 weight on every call), with the few element-wise
// steps that follow a product in a transformer done inside the product's kernel ("post-ops"):
//   plain:     out = x W^T + b
//   gelu:      out = gelu(x W^T + b)                  (erf GELU, as at::gelu)
//   times:     out = (x W^T + b) * m                  (GEGLU's product: m = gelu(gate))
//   residual:  out = out + s * (x W^T + b)            (LayerScale'd residual update, in place)
// x [M, K] contiguous in the weight's dtype (bf16 or fp32); b and s [N] fp32. M is free: the weight is packed once
// (a copy; the given tensor is not kept) and a kernel for each new M is made on first use. Issue #23; docs/dalle.md
// "Packed weights for decoding".
//
// With Weights::int8 the weight is stored as int8 with one scale per output (symmetric, max |w| of the row -> 127),
// and each call quantises x the same way with one scale for the whole input (symmetric, max |x| -> 127); the int32
// products are scaled back to fp32 (scale of x times the output's) before the bias and the epilogue, inside the
// kernel. On CPUs with AVX-512 VNNI that is about twice the bf16 product's speed at half its weight bytes; the
// error is the quantisation's (about 1% relative per product on Gaussian data), measured in docs/dalle.md. x stays
// in the weight's dtype, as for the other kernels: the quantisation is this class's business.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>

namespace couture {

class PackedLinear {
 public:
  enum class Epilogue { plain, gelu, times, residual };
  enum class Weights { as_given, int8 };

  PackedLinear();
  // weight [N, K] (bf16 or fp32), bias [N] or undefined; `out_dtype` is the output's dtype (residual: fp32).
  PackedLinear(const at::Tensor& weight, const at::Tensor& bias, Epilogue epilogue, at::ScalarType out_dtype,
               Weights stored = Weights::as_given);
  ~PackedLinear();
  PackedLinear(PackedLinear&&) noexcept;
  PackedLinear& operator=(PackedLinear&&) noexcept;

  // Returns a new [M, N] tensor (plain, gelu, times), or writes `out` in place (residual). `operand` is m (times,
  // [M, N] fp32) or s (residual, [N] fp32).
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& operand = {}, at::Tensor out = {}) const;

  // Whether this build and CPU can run packed products (oneDNN present and the weight's dtype supported) with an
  // optimised kernel; for int8 weights, whether the CPU has an optimised int8 kernel (AVX-512 VNNI, AVX2...).
  static bool available(at::ScalarType weight_dtype, Weights stored = Weights::as_given);
  bool int8() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace couture
