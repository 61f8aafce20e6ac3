// Causal multi-head self-attention with a preallocated key/value cache, laid out as dalle_pytorch 1.1.5's
// `Attention`: `to_qkv` (no bias) and `to_out` = Sequential(Linear, Dropout); scores (q * dim_head^-0.5) k^T,
// causal mask filled with -max float, softmax, @ v. B batch, n new tokens, L keys, C model width, H heads, D dim_head.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace couture {

// Keys and values of the positions seen so far, written in place as tokens arrive: k transposed [B, H, D, capacity]
// (a prefix of it is a plain strided matrix for the bf16 GEMM; [.., capacity, D] slices take a slow path there),
// v [B, H, capacity, D].
struct KVCache {
  at::Tensor k, v;
  int64_t length = 0;  // positions filled

  static KVCache allocate(int64_t batch, int64_t heads, int64_t capacity, int64_t dim_head, at::ScalarType dtype);
  // A cache of `capacity` whose row i is a copy of this cache's row rows[i] (one caption prefix shared by many
  // candidates, computed once).
  KVCache gather_rows(const std::vector<int64_t>& rows, int64_t capacity) const;
  int64_t capacity() const { return v.defined() ? v.size(2) : 0; }
};

// x @ weight^T (+ bias). The product runs in weight's dtype: bf16 weights take oneDNN's bf16 GEMM here, several
// times faster than OpenBLAS fp32. The product keeps weight's dtype; with a bias it takes the bias's dtype.
at::Tensor dense(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

// One new position per row (a decoding step): writes its key and value at the cache's end and attends over every
// cached position. qkv [B, 3 * H * D] as to_qkv lays it out (q, k, v), in the cache's dtype (fp32 or bf16, the cache
// contiguous); key_keep as in forward. Returns [B, H * D] in out_dtype (fp32 or bf16).
at::Tensor attend_new_position(const at::Tensor& qkv, const at::Tensor& key_keep, KVCache& cache,
                               at::ScalarType out_dtype = at::kFloat);

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout = 0.0);

  // x [B, n, C] are positions [p, p + n), p = cache ? cache->length : 0; the cache (if any) receives their keys
  // and values. key_keep [B, >= p + n] (bool, true = may be attended), optional: masks padding keys.
  // Returns [B, n, C] in fp32 when to_out's bias is fp32.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_keep = {}, KVCache* cache = nullptr);

  int64_t heads() const { return heads_; }
  int64_t dim_head() const { return dim_head_; }

  torch::nn::Linear to_qkv{nullptr};
  torch::nn::Sequential to_out{nullptr};  // 0: Linear (with bias), 1: Dropout

 private:
  torch::nn::Linear out_proj_{nullptr};
  torch::nn::Dropout out_dropout_{nullptr};
  int64_t heads_, dim_head_;
};
TORCH_MODULE(CausalSelfAttention);

}  // namespace couture
