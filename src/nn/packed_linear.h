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
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>

namespace couture {

class PackedLinear {
 public:
  enum class Epilogue { plain, gelu, times, residual };

  PackedLinear();
  // weight [N, K] (bf16 or fp32), bias [N] or undefined; `out_dtype` is the output's dtype (residual: fp32).
  PackedLinear(const at::Tensor& weight, const at::Tensor& bias, Epilogue epilogue, at::ScalarType out_dtype);
  ~PackedLinear();
  PackedLinear(PackedLinear&&) noexcept;
  PackedLinear& operator=(PackedLinear&&) noexcept;

  // Returns a new [M, N] tensor (plain, gelu, times), or writes `out` in place (residual). `operand` is m (times,
  // [M, N] fp32) or s (residual, [N] fp32).
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& operand = {}, at::Tensor out = {}) const;

  // Whether this build and CPU can run packed products (oneDNN present and the weight's dtype supported).
  static bool available(at::ScalarType weight_dtype);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace couture
