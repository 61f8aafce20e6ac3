#include "nn/attention.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace couture {

namespace {

// One decoding step reads every cached key and value once. ATen's batched GEMM treats that as B x H tiny matrix
// products and copies the cache slices first (about 10x the memory traffic), so the step's two products are
// written out here: plain loops the compiler vectorises, cloned for AVX-512 / AVX2 and picked at load time.
inline float load(float x) { return x; }
inline float load(uint16_t bf16) {  // bf16 is the top half of an fp32
  const uint32_t bits = uint32_t(bf16) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// scores[l] = sum_d q[d] k[d][l] for l < L; k rows are `stride` apart (keys are cached transposed).
template <class T>
[[gnu::always_inline]] inline void key_scores(const float* q, const T* k, int64_t stride, int64_t D, int64_t L,
                                              float* scores) {
  for (int64_t l = 0; l < L; ++l) scores[l] = 0;
  for (int64_t d = 0; d < D; ++d) {
    const float qd = q[d];
    const T* row = k + d * stride;
    for (int64_t l = 0; l < L; ++l) scores[l] += qd * load(row[l]);
  }
}

// out[d] = sum_l p[l] v[l][d] for l < L.
template <class T>
[[gnu::always_inline]] inline void weighted_values(const float* p, const T* v, int64_t D, int64_t L, float* out) {
  for (int64_t d = 0; d < D; ++d) out[d] = 0;
  for (int64_t l = 0; l < L; ++l) {
    const float pl = p[l];
    const T* row = v + l * D;
    for (int64_t d = 0; d < D; ++d) out[d] += pl * load(row[d]);
  }
}

#define COUTURE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
COUTURE_CLONES void key_scores_f32(const float* q, const float* k, int64_t s, int64_t D, int64_t L, float* out) {
  key_scores(q, k, s, D, L, out);
}
COUTURE_CLONES void key_scores_bf16(const float* q, const uint16_t* k, int64_t s, int64_t D, int64_t L, float* out) {
  key_scores(q, k, s, D, L, out);
}
COUTURE_CLONES void weighted_values_f32(const float* p, const float* v, int64_t D, int64_t L, float* out) {
  weighted_values(p, v, D, L, out);
}
COUTURE_CLONES void weighted_values_bf16(const float* p, const uint16_t* v, int64_t D, int64_t L, float* out) {
  weighted_values(p, v, D, L, out);
}
#undef COUTURE_CLONES
// The clones by element type, for code written once for both caches.
void key_scores_of(const float* q, const float* k, int64_t s, int64_t D, int64_t L, float* out) {
  key_scores_f32(q, k, s, D, L, out);
}
void key_scores_of(const float* q, const uint16_t* k, int64_t s, int64_t D, int64_t L, float* out) {
  key_scores_bf16(q, k, s, D, L, out);
}
void weighted_values_of(const float* p, const float* v, int64_t D, int64_t L, float* out) {
  weighted_values_f32(p, v, D, L, out);
}
void weighted_values_of(const float* p, const uint16_t* v, int64_t D, int64_t L, float* out) {
  weighted_values_bf16(p, v, D, L, out);
}

bool can_attend_new_position(const KVCache& cache) {
  const auto type = cache.k.scalar_type();
  return (type == at::kFloat || type == at::kBFloat16) && cache.k.is_contiguous() && cache.v.is_contiguous();
}

}  // namespace

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
  if (!bias.defined()) return y;
  // Convert, then add in place: a mixed-dtype add takes a slow unvectorised path here (60x slower).
  return y.to(bias.scalar_type()).add_(bias);
}

at::Tensor attend_new_position(const at::Tensor& qkv, const at::Tensor& key_keep, KVCache& cache,
                               at::ScalarType out_dtype) {
  const int64_t B = qkv.size(0), H = cache.v.size(1), D = cache.v.size(3), p = cache.length, L = p + 1;
  const int64_t cap = cache.capacity();
  const bool bf16 = cache.k.scalar_type() == at::kBFloat16;
  COUTURE_CHECK(qkv.dim() == 2 && qkv.size(1) == 3 * H * D && qkv.scalar_type() == cache.k.scalar_type(),
                "attention: qkv of shape ", qkv.sizes(), " and dtype ", qkv.scalar_type(), " for ", H, " heads of ", D,
                " and a ", cache.k.scalar_type(), " cache");
  COUTURE_CHECK(L <= cap, "KV cache: ", L, " positions exceed its capacity ", cap);
  COUTURE_CHECK(out_dtype == at::kFloat || out_dtype == at::kBFloat16, "attention: output dtype ", out_dtype);
  at::Tensor keep;
  if (key_keep.defined()) {
    COUTURE_CHECK(key_keep.dim() == 2 && key_keep.size(0) == B && key_keep.size(1) >= L,
                  "attention: key mask of shape ", key_keep.sizes(), " does not cover ", B, " x ", L, " keys");
    keep = key_keep.narrow(1, 0, L).to(at::kBool).contiguous();
  }
  auto in = qkv.contiguous();
  auto out = at::empty({B, H * D}, at::TensorOptions().dtype(out_dtype));
  const float scale = float(1.0 / std::sqrt(double(D)));
  const float masked = -std::numeric_limits<float>::max();
  // One parallel region for the whole step: each (row, head) writes its key and value into the cache, scores its
  // query against every cached key, masks, soft-maxes and sums the values.
  const bool* keep_p = keep.defined() ? keep.data_ptr<bool>() : nullptr;
  float* out_f32 = out_dtype == at::kFloat ? out.data_ptr<float>() : nullptr;
  at::BFloat16* out_bf16 = out_dtype == at::kBFloat16 ? out.data_ptr<at::BFloat16>() : nullptr;
  // One (row, head) of the step, for fp32 (float) or bf16 (uint16_t) elements.
  auto attend = [&](int64_t r, const auto* qkv_p, auto* k, auto* v, float* q, float* scores, float* acc) {
    const int64_t b = r / H, h = r % H, src = b * 3 * H * D + h * D;
    k += r * D * cap;
    v += r * cap * D;
    for (int64_t d = 0; d < D; ++d) {
      q[d] = load(qkv_p[src + d]) * scale;
      k[d * cap + p] = qkv_p[src + H * D + d];
      v[p * D + d] = qkv_p[src + 2 * H * D + d];
    }
    key_scores_of(q, k, cap, D, L, scores);
    if (keep_p)
      for (int64_t l = 0; l < L; ++l)
        if (!keep_p[b * L + l]) scores[l] = masked;
    float top = scores[0];
    for (int64_t l = 1; l < L; ++l) top = std::max(top, scores[l]);
    float sum = 0;
    for (int64_t l = 0; l < L; ++l) sum += scores[l] = std::exp(scores[l] - top);
    for (int64_t l = 0; l < L; ++l) scores[l] /= sum;
    weighted_values_of(scores, v, D, L, acc);
    const int64_t at = b * H * D + h * D;
    if (out_f32)
      std::copy(acc, acc + D, out_f32 + at);
    else
      for (int64_t d = 0; d < D; ++d) out_bf16[at + d] = at::BFloat16(acc[d]);
  };
  // One parallel region for the whole step: each (row, head) writes its key and value into the cache, scores its
  // query against every cached key, masks, soft-maxes and sums the values.
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> q(D), scores(L), acc(D);
    auto words = [](const at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); };
    for (int64_t r = begin; r < end; ++r) {
      if (bf16)
        attend(r, static_cast<const uint16_t*>(words(in)), words(cache.k), words(cache.v), q.data(), scores.data(),
               acc.data());
      else
        attend(r, static_cast<const float*>(in.data_ptr<float>()), cache.k.data_ptr<float>(),
               cache.v.data_ptr<float>(), q.data(), scores.data(), acc.data());
    }
  });
  cache.length = L;
  return out;
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
  auto qkv = dense(x, to_qkv->weight);  // [B, n, 3 * H * D]
  if (cache && n == 1 && !at::GradMode::is_enabled() && can_attend_new_position(*cache)) {
    auto out = attend_new_position(qkv.view({B, 3 * H * D}), key_keep, *cache).view({B, 1, H * D});
    return out_dropout_->forward(dense(out, out_proj_->weight, out_proj_->bias));
  }
  qkv = qkv.view({B, n, 3, H, D}).permute({2, 0, 3, 1, 4});  // [3, B, H, n, D]
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
