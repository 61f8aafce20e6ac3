// taming-transformers' convolutional blocks (taming/modules/diffusionmodules/model.py): the pieces of the VQGAN
// Encoder and Decoder. Registered names equal taming's state-dict keys (norm1, conv1, nin_shortcut, q, k, v,
// proj_out, conv), so converted checkpoints load by name.
//
// B batch, C channels, H x W spatial size. Tensors may be NCHW or channels-last, F32 or BF16.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <c10/core/MemoryFormat.h>

#include <cstdint>

namespace couture {

// taming's Normalize: GroupNorm(32 groups, eps 1e-6, affine). `groups` other than 32 is a Couture extension for
// narrow models (see VQGanConfig::norm_groups).
torch::nn::GroupNorm taming_group_norm(int64_t channels, int64_t groups = 32);

// Applies `norm` with F32 statistics whatever the input type, returning the input's type (LibTorch 1.13's own BF16
// GroupNorm loses accuracy on channels-last inputs with large H x W: relative error 0.36 at 64x64). Without
// autograd it runs the fused two-pass kernel of nn/taming_group_norm.h.
at::Tensor group_norm(const torch::nn::GroupNorm& norm, const at::Tensor& x);

// taming's nonlinearity: x * sigmoid(x).
at::Tensor swish(const at::Tensor& x);

// swish(group_norm(norm, x)); without autograd fused into the normalisation's second pass.
at::Tensor norm_swish(const torch::nn::GroupNorm& norm, const at::Tensor& x);

// norm1 -> swish -> conv1 -> norm2 -> swish -> dropout -> conv2, added to the input (through a 1x1 nin_shortcut
// when the channel count changes). taming's temb_proj and conv_shortcut are absent: the VQGAN never uses them.
class ResnetBlockImpl : public torch::nn::Module {
 public:
  ResnetBlockImpl(int64_t in_channels, int64_t out_channels, double dropout = 0.0, int64_t groups = 32);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Conv2d nin_shortcut{nullptr};  // only when in_channels != out_channels

 private:
  double dropout_;
};
TORCH_MODULE(ResnetBlock);

// Single-head self-attention over the H*W positions with 1x1-conv projections, scores scaled by C^-0.5, added to
// the input.
class AttnBlockImpl : public torch::nn::Module {
 public:
  explicit AttnBlockImpl(int64_t channels, int64_t groups = 32);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d q{nullptr}, k{nullptr}, v{nullptr}, proj_out{nullptr};
};
TORCH_MODULE(AttnBlock);

// Halves H and W: zero-pad right and bottom by one (taming's asymmetric (0,1,0,1)), then a stride-2 3x3 conv.
class DownsampleImpl : public torch::nn::Module {
 public:
  explicit DownsampleImpl(int64_t channels);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample);

// Doubles H and W: nearest-neighbour upsampling, then a 3x3 conv (in evaluation mode computed as four 2x2 convs
// on the low-resolution input, one per output phase: the same result with 4/9 of the work).
class UpsampleImpl : public torch::nn::Module {
 public:
  explicit UpsampleImpl(int64_t channels);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv{nullptr};

 private:
  const at::Tensor& phase_kernel(at::MemoryFormat layout);
  at::Tensor phase_kernel_, phase_bias_;
  const void* phase_source_ = nullptr;
  int64_t phase_version_ = -1;
};
TORCH_MODULE(Upsample);

}  // namespace couture
