#include "nn/attention.h"

#include <limits>

#include "core/error.h"

namespace couture {

KVCache KVCache::allocate(int64_t batch, int64_t heads, int64_t capacity, int64_t dim_head, at::ScalarType dtype) {
  auto options = at::TensorOptions().dtype(dtype);
  return {at::empty({batch, heads, dim_head, capacity}, options), at::empty({batch, heads, capacity, dim_head}, options),
          0};
}

KVCache KVCache::gather_rows(const std::vector<int64_t>& rows, int64_t capacity) const {
  COUTURE_CHECK(capacity >= length, "KV cache: capacity ", capacity, " is below the ", length, " positions held");
  KVCache out = allocate(int64_t(rows.size()), v.size(1), capacity, v.size(3), v.scalar_type());
  for (size_t i = 0; i < rows.size(); ++i) {
    out.k[int64_t(i)].narrow(2, 0, length).copy_(k[rows[i]].narrow(2, 0, length));
    out.v[int64_t(i)].narrow(1, 0, length).copy_(v[rows[i]].narrow(1, 0, length));
  }
  out.length = length;
  return out;
}

at::Tensor dense(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (x.scalar_type() == weight.scalar_type() && weight.scalar_type() == at::kFloat)
    return at::linear(x, weight, bias);  // fused bias (addmm)
  auto y = at::matmul(x.to(weight.scalar_type()), weight.t());
  return bias.defined() ? y + bias : y;
}

CausalSelfAttentionImpl::CausalSelfAttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout)
    : heads_(heads), dim_head_(dim_head) {
  const int64_t inner = heads * dim_head;
  to_qkv = register_module("to_qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * inner).bias(false)));
  out_proj_ = torch::nn::Linear(inner, dim);
  out_dropout_ = torch::nn::Dropout(dropout);
  to_out = register_module("to_out", torch::nn::Sequential(out_proj_, out_dropout_));
}

at::Tensor CausalSelfAttentionImpl::forward(const at::Tensor& x, const at::Tensor& key_keep, KVCache* cache) {
  const int64_t B = x.size(0), n = x.size(1), H = heads_, D = dim_head_;
  auto qkv = dense(x, to_qkv->weight).view({B, n, 3, H, D}).permute({2, 0, 3, 1, 4});  // [3, B, H, n, D]
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  int64_t p = 0;
  auto kt = k.transpose(-2, -1);  // [B, H, D, n]
  if (cache) {
    p = cache->length;
    COUTURE_CHECK(p + n <= cache->capacity(), "KV cache: ", p + n, " positions exceed its capacity ",
                  cache->capacity());
    cache->k.narrow(3, p, n).copy_(kt);
    cache->v.narrow(2, p, n).copy_(v);
    cache->length = p + n;
    kt = cache->k.narrow(3, 0, p + n);
    v = cache->v.narrow(2, 0, p + n);
  }
  const int64_t L = p + n;
  // Scores in the weights' dtype (bf16 GEMMs accumulate in fp32), masking and softmax in fp32.
  auto scores = at::matmul(q * (1.0 / std::sqrt(double(D))), kt).to(at::kFloat);  // [B, H, n, L]
  const float masked = -std::numeric_limits<float>::max();
  if (key_keep.defined()) {
    COUTURE_CHECK(key_keep.size(0) == B && key_keep.size(1) >= L, "attention: key mask of shape ",
                  key_keep.sizes(), " does not cover ", B, " x ", L, " keys");
    scores.masked_fill_(key_keep.narrow(1, 0, L).logical_not().view({B, 1, 1, L}), masked);
  }
  if (n > 1) scores.masked_fill_(at::ones({n, L}, at::kBool).triu_(p + 1), masked);  // query i sees keys <= p + i
  auto attn = scores.softmax(-1).to(v.scalar_type());
  auto out = at::matmul(attn, v).permute({0, 2, 1, 3}).reshape({B, n, H * D});
  return out_dropout_->forward(dense(out, out_proj_->weight, out_proj_->bias));
}

}  // namespace couture
