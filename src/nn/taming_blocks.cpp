#include "nn/taming_blocks.h"

namespace couture {

namespace F = torch::nn::functional;

namespace {

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

}  // namespace

torch::nn::GroupNorm taming_group_norm(int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(32, channels).eps(1e-6).affine(true));
}

at::Tensor swish(const at::Tensor& x) { return x * torch::sigmoid(x); }

ResnetBlockImpl::ResnetBlockImpl(int64_t in_channels, int64_t out_channels, double dropout) : dropout_(dropout) {
  norm1 = register_module("norm1", taming_group_norm(in_channels));
  conv1 = register_module("conv1", make_conv(in_channels, out_channels, 3, 1, 1));
  norm2 = register_module("norm2", taming_group_norm(out_channels));
  conv2 = register_module("conv2", make_conv(out_channels, out_channels, 3, 1, 1));
  if (in_channels != out_channels)
    nin_shortcut = register_module("nin_shortcut", make_conv(in_channels, out_channels, 1));
}

at::Tensor ResnetBlockImpl::forward(const at::Tensor& x) {
  auto h = conv1(swish(norm1(x)));
  h = swish(norm2(h));
  if (dropout_ > 0) h = torch::dropout(h, dropout_, is_training());
  h = conv2(h);
  return (nin_shortcut ? nin_shortcut(x) : x) + h;
}

AttnBlockImpl::AttnBlockImpl(int64_t channels) {
  norm = register_module("norm", taming_group_norm(channels));
  q = register_module("q", make_conv(channels, channels, 1));
  k = register_module("k", make_conv(channels, channels, 1));
  v = register_module("v", make_conv(channels, channels, 1));
  proj_out = register_module("proj_out", make_conv(channels, channels, 1));
}

at::Tensor AttnBlockImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto h = norm(x);
  auto query = q(h).reshape({B, C, H * W}).transpose(1, 2);  // [B, HW, C]
  auto key = k(h).reshape({B, C, H * W});                     // [B, C, HW]
  auto value = v(h).reshape({B, C, H * W});                   // [B, C, HW]
  auto weights = torch::softmax(torch::bmm(query, key) * (1.0 / std::sqrt(double(C))), 2);  // [B, HW(q), HW(k)]
  auto out = torch::bmm(value, weights.transpose(1, 2)).reshape({B, C, H, W});
  if (x.is_contiguous(at::MemoryFormat::ChannelsLast)) out = out.contiguous(at::MemoryFormat::ChannelsLast);
  return x + proj_out(out);
}

DownsampleImpl::DownsampleImpl(int64_t channels) {
  conv = register_module("conv", make_conv(channels, channels, 3, 2, 0));
}

at::Tensor DownsampleImpl::forward(const at::Tensor& x) {
  return conv(F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
}

UpsampleImpl::UpsampleImpl(int64_t channels) {
  conv = register_module("conv", make_conv(channels, channels, 3, 1, 1));
}

at::Tensor UpsampleImpl::forward(const at::Tensor& x) {
  auto up = F::interpolate(
      x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
  return conv(up);
}

}  // namespace couture
