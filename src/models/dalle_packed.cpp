// The DALL-E's one-position decoding step on packed weights (nn/packed_linear.h), issue #23. Per layer and step the
// plain path runs about 30 operators, nine of them dtype conversions around the products; this one runs two layer
// norms, five products whose epilogues do the bias, GEGLU, LayerScale and residual add, and the cached attention:
//   attention:     x = norm(h); qkv = x Wqkv; o = attend(qkv); h += scale * (o Wo + bo)
//   feed-forward:  x = norm(h); g = gelu(x Wg + bg); y = (x Wv + bv) * g; h += scale * (y Wout + bout)
// (Wv, Wg are the value and gate halves of ff_in.) The same arithmetic as DalleImpl::transform up to rounding: the
// products' fp32 results are not rounded to the weights' dtype before the bias, as the plain path's are.
#include <ATen/ATen.h>

#include "core/error.h"
#include "models/dalle.h"
#include "nn/packed_linear.h"

namespace couture {

namespace {

// LayerNorm of a few rows [M, C] fp32, written in `dtype` for the next product. On one thread: at M = 16 the
// parallel ATen operator and the conversion after it cost more in waking the second thread than the work itself.
at::Tensor norm_rows(torch::nn::LayerNormImpl& norm, const at::Tensor& x, at::ScalarType dtype) {
  const int64_t M = x.size(0), C = x.size(1);
  const double eps = norm.options.eps();
  auto out = at::empty({M, C}, x.options().dtype(dtype));
  const float* in = x.data_ptr<float>();
  const float* w = norm.weight.data_ptr<float>();
  const float* b = norm.bias.data_ptr<float>();
  float* out_f32 = dtype == at::kFloat ? out.data_ptr<float>() : nullptr;
  at::BFloat16* out_bf16 = dtype == at::kFloat ? nullptr : out.data_ptr<at::BFloat16>();
  std::vector<float> row(C);
  for (int64_t m = 0; m < M; ++m) {
    const float* xm = in + m * C;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += xm[c];
    mean /= double(C);
    for (int64_t c = 0; c < C; ++c) var += (xm[c] - mean) * (xm[c] - mean);
    const float inv = float(1.0 / std::sqrt(var / double(C) + eps)), mu = float(mean);
    for (int64_t c = 0; c < C; ++c) row[c] = (xm[c] - mu) * inv * w[c] + b[c];
    if (out_f32)
      std::copy(row.begin(), row.end(), out_f32 + m * C);
    else
      for (int64_t c = 0; c < C; ++c) out_bf16[m * C + c] = at::BFloat16(row[c]);
  }
  return out;
}

}  // namespace

struct DallePackedWeights {
  struct Layer {
    PackedLinear qkv, out, gate, value, ff_out;
    at::Tensor attn_scale, ff_scale;  // LayerScale [C] fp32
  };
  std::vector<Layer> layers;
  PackedLinear image_logits;
  at::Tensor ones;  // [C]: the residual epilogue's scale where no LayerScale applies
};

void DalleImpl::pack_for_decoding(bool inference_only, bool int8) {
  torch::NoGradGuard no_grad;
  COUTURE_CHECK(!inference_only_, "dalle: already packed for inference only");
  packed_.reset();
  const auto dtype = weight_dtype();
  if (!PackedLinear::available(dtype)) return;
  using E = PackedLinear::Epilogue;
  const auto stored = int8 && PackedLinear::available(dtype, PackedLinear::Weights::int8)
                          ? PackedLinear::Weights::int8
                          : PackedLinear::Weights::as_given;
  auto packed = std::make_shared<DallePackedWeights>();
  for (auto& b : blocks_) {
    DallePackedWeights::Layer l;
    auto& attention = *b.attn;
    const auto to_out = attention.to_out->ptr<torch::nn::LinearImpl>(0);
    l.qkv = PackedLinear(attention.to_qkv->weight, {}, E::plain, dtype, stored);
    l.out = PackedLinear(to_out->weight, to_out->bias, E::residual, at::kFloat, stored);
    const int64_t inner = b.ff_in->weight.size(0) / 2;  // GEGLU: value rows, then gate rows
    const auto& w = b.ff_in->weight;
    const auto& bias = b.ff_in->bias;
    l.value = PackedLinear(w.narrow(0, 0, inner), bias.narrow(0, 0, inner), E::times, dtype, stored);
    l.gate = PackedLinear(w.narrow(0, inner, inner), bias.narrow(0, inner, inner), E::gelu, at::kFloat, stored);
    l.ff_out = PackedLinear(b.ff_out->weight, b.ff_out->bias, E::residual, at::kFloat, stored);
    l.attn_scale = b.attn_branch.scale.detach().to(at::kFloat).contiguous().view({-1});
    l.ff_scale = b.ff_branch.scale.detach().to(at::kFloat).contiguous().view({-1});
    packed->layers.push_back(std::move(l));
  }
  const int64_t first = config_.text_logits(), n = config_.num_image_tokens;
  packed->image_logits = PackedLinear(logits_proj_->weight.narrow(0, first, n), logits_proj_->bias.narrow(0, first, n),
                                      E::plain, at::kFloat);
  packed->ones = at::ones({config_.dim}, at::kFloat);
  packed_ = std::move(packed);
  if (inference_only) {
    for (auto& b : blocks_)
      for (auto* linear : {&b.ff_in, &b.ff_out})
        (*linear)->weight.set_data(at::empty({0}, (*linear)->weight.options()));
    inference_only_ = true;
  }
}

bool DalleImpl::packed_int8() const { return packed_ && !packed_->layers.empty() && packed_->layers[0].qkv.int8(); }

// The feed-forward of any number of positions on the packed weights (the prompt's pass of an inference-only model):
// x [.., C] fp32 normed; returns [.., C] fp32 before LayerScale, as feed_forward.
at::Tensor DalleImpl::feed_forward_packed(size_t layer, const at::Tensor& x) {
  const auto& l = packed_->layers[layer];
  auto rows = x.reshape({-1, config_.dim}).to(weight_dtype()).contiguous();
  auto out = at::zeros({rows.size(0), config_.dim}, at::kFloat);
  l.ff_out(l.value(rows, l.gate(rows)), packed_->ones, out);
  return out.view(x.sizes());
}

at::Tensor DalleImpl::transform_packed(const at::Tensor& x, const at::Tensor& keep, DalleCache& cache) {
  const int64_t B = x.size(0), C = config_.dim;
  const auto dtype = weight_dtype();
  auto normed = [&](torch::nn::LayerNorm& norm, const at::Tensor& h) { return norm_rows(*norm, h, dtype); };
  auto attention = [&](size_t i, const at::Tensor& in, at::Tensor& residual) {
    const auto& l = packed_->layers[i];
    auto qkv = l.qkv(normed(blocks_[i].attn_branch.norm, in));
    auto o = attend_new_position(qkv, keep, cache.layers[i], dtype);
    l.out(o, l.attn_scale, residual);
  };
  auto feed = [&](size_t i, const at::Tensor& in, at::Tensor& residual) {
    const auto& l = packed_->layers[i];
    auto h = normed(blocks_[i].ff_branch.norm, in);
    l.ff_out(l.value(h, l.gate(h)), l.ff_scale, residual);
  };
  if (!config_.reversible) {
    auto h = x.to(at::kFloat).reshape({B, C}).clone();
    for (size_t i = 0; i < blocks_.size(); ++i) {
      attention(i, h, h);
      feed(i, h, h);
    }
    return h.view({B, 1, C});
  }
  auto x1 = x.to(at::kFloat).reshape({B, C}).clone(), x2 = x1.clone();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    attention(i, x2, x1);
    feed(i, x1, x2);
  }
  return ((x1 + x2) * 0.5).view({B, 1, C});
}

at::Tensor DalleImpl::image_logits_packed(const at::Tensor& h) {
  auto sizes = h.sizes().vec();
  sizes.back() = config_.num_image_tokens;
  auto x = final_norm_(h).reshape({-1, config_.dim}).to(weight_dtype()).contiguous();
  return packed_->image_logits(x).view(sizes);
}

}  // namespace couture
