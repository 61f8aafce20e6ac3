// The VQGAN's vector quantizer, taming-transformers' VectorQuantizer2 with legacy=True
// (taming/modules/vqvae/quantize.py): nearest code by ||z||^2 + ||e||^2 - 2 z.e, straight-through gradient, loss
// mean((sg[zq] - z)^2) + beta * mean((zq - sg[z])^2). Its one tensor is `embedding.weight` [K, D].
// Optionally (`l2_normalize`, ViT-VQGAN's "factorized codes" lookup, a Couture extension) encoder vectors and codes
// are compared and passed on as unit vectors: the nearest code by cosine, the decoder fed the normalised code.
// Beside taming: codebook-health tools for training (usage and perplexity counters, dead-code re-initialisation
// from recent encoder outputs, k-means initialisation). Their state is not in the state dict: the dead-code
// bookkeeping lives in `training_state()`, a module of its own that training checkpoints carry, so that a resumed
// run re-initialises the same codes from the same vectors as an uninterrupted one.
//
// B batch, D embed_dim, h x w code grid, K n_embed, N flattened vectors.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace couture {

// How often each code was chosen.
class CodebookStats {
 public:
  explicit CodebookStats(int64_t n_embed = 0) : counts_(size_t(n_embed), 0) {}
  void add(const at::Tensor& indices);  // int64 codes of any shape
  void reset();

  int64_t n_embed() const { return int64_t(counts_.size()); }
  int64_t total() const { return total_; }
  int64_t used_codes() const;  // codes chosen at least once
  double usage() const { return counts_.empty() ? 0.0 : double(used_codes()) / double(counts_.size()); }
  double perplexity() const;   // exp(entropy of the code frequencies), as taming's VectorQuantizer logs it
  const std::vector<int64_t>& counts() const { return counts_; }
  static CodebookStats from_counts(const at::Tensor& counts);  // [K] int64 counts

 private:
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

struct Quantized {
  at::Tensor zq;       // [B, D, h, w]: the chosen codes forward, the gradient of z backward
  at::Tensor loss;     // scalar: mean((sg[zq] - z)^2) + beta * mean((zq - sg[z])^2)
  at::Tensor indices;  // [B, h*w] int64, row-major over the grid
};

// The quantizer's dead-code bookkeeping as fixed-shape buffers (so that a checkpoint can hold it), on the CPU.
struct QuantizerTrainingStateImpl : torch::nn::Module {
  QuantizerTrainingStateImpl(int64_t n_embed, int64_t embed_dim, int64_t memory_size);
  at::Tensor since_reinit;  // [K] int64: how often each code was chosen since the last re-initialisation
  at::Tensor memory;        // [M, D] F32: recent encoder outputs, a ring buffer
  at::Tensor memory_rows;   // int64 scalar: rows of `memory` filled so far (<= M)
  at::Tensor memory_next;   // int64 scalar: the row the next vector overwrites
};
TORCH_MODULE(QuantizerTrainingState);

class VectorQuantizerImpl : public torch::nn::Module {
 public:
  VectorQuantizerImpl(int64_t n_embed, int64_t embed_dim, double beta, bool l2_normalize = false);

  // z [B, D, h, w] (F32 or BF16; distances are always computed in F32). In training mode the chosen codes are
  // counted into `usage` and the training state's `since_reinit`, and the batch's vectors are remembered for
  // dead-code re-initialisation.
  Quantized forward(const at::Tensor& z);
  at::Tensor nearest_codes(const at::Tensor& vectors);  // [N, D] -> [N] int64
  at::Tensor lookup(const at::Tensor& indices, int64_t h, int64_t w);  // [B, h*w] -> [B, D, h, w]

  // Codes chosen fewer than `min_count` times since the last call become random vectors among the remembered
  // encoder outputs (plus noise of 1% of their spread, so copies part ways). Resets `since_reinit`. Returns the
  // number of codes re-initialised (0 when nothing has been remembered yet).
  int64_t reinit_dead_codes(at::Generator generator, int64_t min_count = 1);
  CodebookStats since_reinit() const;  // the codes chosen since the last re-initialisation (or reset_since_reinit)
  void reset_since_reinit();
  // Lloyd's k-means over `vectors` [N, D] (e.g. encoder outputs of a few batches), seeded by K random vectors;
  // the centroids become the codebook. Returns the final mean squared distance to the nearest centroid.
  double kmeans_init(const at::Tensor& vectors, int iterations, at::Generator generator);
  void set_memory_size(int64_t vectors);  // remembered encoder outputs (default 4K); forgets what was remembered
  // What a training checkpoint must hold besides the weights (not registered: not in the state dict).
  QuantizerTrainingState& training_state() { return state_; }

  int64_t n_embed() const { return n_embed_; }
  int64_t embed_dim() const { return embed_dim_; }
  bool l2_normalize() const { return l2_normalize_; }

  torch::nn::Embedding embedding{nullptr};
  CodebookStats usage;  // every code chosen in training mode (not checkpointed: for tests and logs)

 private:
  void remember(const at::Tensor& vectors);
  at::Tensor codebook() const;  // the rows vectors are compared with and decoded from (unit rows with l2_normalize)
  at::Tensor prepare(const at::Tensor& vectors) const;  // vectors as they are compared with the codebook

  int64_t n_embed_, embed_dim_;
  double beta_;
  bool l2_normalize_;
  QuantizerTrainingState state_{nullptr};
};
TORCH_MODULE(VectorQuantizer);

}  // namespace couture
