#include "nn/taming_blocks.h"

#include "nn/taming_group_norm.h"

namespace couture {

namespace F = torch::nn::functional;

namespace {

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

}  // namespace

torch::nn::GroupNorm taming_group_norm(int64_t channels, int64_t groups) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(1e-6).affine(true));
}

at::Tensor group_norm(const torch::nn::GroupNorm& norm, const at::Tensor& x) {
  const auto& o = norm->options;
  if (!at::GradMode::is_enabled() && fused_group_norm_supports(x, o.num_groups()))
    return fused_group_norm(x, o.num_groups(), norm->weight, norm->bias, o.eps(), /*silu=*/false);
  if (x.scalar_type() == torch::kFloat) return norm.ptr()->forward(x);
  return torch::group_norm(x.to(torch::kFloat), o.num_groups(), norm->weight.to(torch::kFloat),
                           norm->bias.to(torch::kFloat), o.eps())
      .to(x.scalar_type());
}

at::Tensor swish(const at::Tensor& x) { return x * torch::sigmoid(x); }

at::Tensor norm_swish(const torch::nn::GroupNorm& norm, const at::Tensor& x) {
  const auto& o = norm->options;
  if (!at::GradMode::is_enabled() && fused_group_norm_supports(x, o.num_groups()))
    return fused_group_norm(x, o.num_groups(), norm->weight, norm->bias, o.eps(), /*silu=*/true);
  return swish(group_norm(norm, x));
}

ResnetBlockImpl::ResnetBlockImpl(int64_t in_channels, int64_t out_channels, double dropout, int64_t groups)
    : dropout_(dropout) {
  norm1 = register_module("norm1", taming_group_norm(in_channels, groups));
  conv1 = register_module("conv1", make_conv(in_channels, out_channels, 3, 1, 1));
  norm2 = register_module("norm2", taming_group_norm(out_channels, groups));
  conv2 = register_module("conv2", make_conv(out_channels, out_channels, 3, 1, 1));
  if (in_channels != out_channels)
    nin_shortcut = register_module("nin_shortcut", make_conv(in_channels, out_channels, 1));
}

at::Tensor ResnetBlockImpl::forward(const at::Tensor& x) {
  auto h = conv1(norm_swish(norm1, x));
  h = norm_swish(norm2, h);
  if (dropout_ > 0) h = torch::dropout(h, dropout_, is_training());
  h = conv2(h);
  auto shortcut = nin_shortcut ? nin_shortcut(x) : x;
  return at::GradMode::is_enabled() ? shortcut + h : h.add_(shortcut);
}

AttnBlockImpl::AttnBlockImpl(int64_t channels, int64_t groups) {
  norm = register_module("norm", taming_group_norm(channels, groups));
  q = register_module("q", make_conv(channels, channels, 1));
  k = register_module("k", make_conv(channels, channels, 1));
  v = register_module("v", make_conv(channels, channels, 1));
  proj_out = register_module("proj_out", make_conv(channels, channels, 1));
}

at::Tensor AttnBlockImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto h = group_norm(norm, x);
  // [B, C, H, W] -> [B, HW, C] views (free for both layouts); products and softmax in F32 (LibTorch 1.13 has no
  // fast BF16 batched matmul on the CPU, and these are small).
  auto tokens = [](const at::Tensor& t) { return t.flatten(2).transpose(1, 2).to(torch::kFloat); };
  auto query = tokens(q(h)) * (1.0 / std::sqrt(double(C)));
  auto weights = torch::softmax(torch::bmm(query, tokens(k(h)).transpose(1, 2)), 2);  // [B, HW(q), HW(k)]
  auto out = torch::bmm(weights, tokens(v(h))).to(x.scalar_type());                   // [B, HW, C]
  out = out.transpose(1, 2).view({B, C, H, W}).contiguous(x.suggest_memory_format());
  auto projected = proj_out(out);
  return at::GradMode::is_enabled() ? x + projected : projected.add_(x);
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

// The 2x2 phase kernels [(a, b, O), I, 2, 2], derived in F32 from the 3x3 kernel, cached until the weight changes.
const at::Tensor& UpsampleImpl::phase_kernel(at::MemoryFormat layout) {
  const auto& w = conv->weight;  // [O, I, 3, 3]
  const bool stale = !phase_kernel_.defined() || phase_source_ != w.data_ptr() ||
                     phase_version_ != w._version() || phase_kernel_.scalar_type() != w.scalar_type() ||
                     !phase_kernel_.is_contiguous(layout) || at::GradMode::is_enabled();
  if (stale) {
    // taps[a][p][y] = 1 when row y of the 3x3 kernel reads input row r - 1 + a + p for output row 2r + a.
    auto taps = torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 1.f, 1.f, 1.f, 0.f, 0.f, 0.f, 1.f}, w.device()).view({2, 2, 3});
    auto kernel = torch::einsum("apy,bqx,oiyx->aboipq", {taps, taps, w.to(torch::kFloat)});
    phase_kernel_ = kernel.reshape({4 * w.size(0), w.size(1), 2, 2}).to(w.scalar_type()).contiguous(layout);
    phase_bias_ = conv->bias.repeat({4});
    phase_source_ = w.data_ptr();
    phase_version_ = w._version();
  }
  return phase_kernel_;
}

// In evaluation, nearest-2x followed by a 3x3 conv is computed as one 2x2 conv on the low-resolution input with
// four output phases (a, b), output pixel (2r + a, 2c + b); each phase's 2x2 kernel sums the 3x3 taps that land on
// the same input pixel. Same result with 4/9 of the multiply-adds and no 4x larger intermediate.
at::Tensor UpsampleImpl::forward(const at::Tensor& x) {
  if (is_training()) {
    auto up = F::interpolate(
        x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
    return conv(up);
  }
  const int64_t B = x.size(0), O = conv->weight.size(0), h = x.size(2), wd = x.size(3);
  const auto layout = x.suggest_memory_format();
  const auto& kernel = phase_kernel(layout);  // sets phase_bias_ too
  auto y = F::conv2d(x, kernel, F::Conv2dFuncOptions().bias(phase_bias_).padding(1));  // [B, 4O, h+1, w+1]
  auto phases = y.view({B, 2, 2, O, h + 1, wd + 1});
  // out[B, O, h, a, w, b], laid out as the input is (channels-last: [B, h, a, w, b, O] in memory).
  at::Tensor out, out6;
  if (layout == at::MemoryFormat::ChannelsLast) {
    out = torch::empty({B, h, 2, wd, 2, O}, x.options());
    out6 = out.permute({0, 5, 1, 2, 3, 4});
  } else {
    out = torch::empty({B, O, h, 2, wd, 2}, x.options());
    out6 = out;
  }
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b)
      out6.select(5, b).select(3, a).copy_(phases.select(2, b).select(1, a).slice(2, a, a + h).slice(3, b, b + wd));
  if (layout == at::MemoryFormat::ChannelsLast) return out.view({B, 2 * h, 2 * wd, O}).permute({0, 3, 1, 2});
  return out.view({B, O, 2 * h, 2 * wd});
}

}  // namespace couture
