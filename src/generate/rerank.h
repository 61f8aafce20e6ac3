// The CLIP reranker at inference: a trained KoCLIP model (RUN/clip.safetensors, self-describing) and its WordPiece
// vocabulary (RUN/vocab.txt) score N candidate images against one caption; the pipeline keeps the best. Used by
// `couture rank`, `couture eval clip` and the generator.
//
// Scores are Clip::similarity: the cosine of the two embeddings (CLIP loss; in [-1,1]) or the original KoCLIP's
// logit, 0.07 * dot product (kodalle loss). Higher is a better match.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/clip.h"

namespace couture {

struct Image;
class WordPieceTokenizer;

struct ClipScorerOptions {
  bool bf16 = false;        // weights and activations in bfloat16 (about 1.5x faster here; cosine to fp32 >= 0.99)
  int64_t max_batch = 64;   // images (or captions) encoded per forward pass
};

class ClipScorer {
 public:
  // `clip`: a run folder (clip.safetensors + vocab.txt) or a .safetensors file; `vocab`: overrides the vocabulary
  // (required with a bare file that has no vocab.txt beside it). InputError naming the file on any problem.
  static ClipScorer load(const std::filesystem::path& clip, const std::filesystem::path& vocab = {},
                         const ClipScorerOptions& options = {});
  ClipScorer(Clip model, std::shared_ptr<const WordPieceTokenizer> tokenizer, const ClipScorerOptions& options = {});

  // Embeddings [N,P] float. Images: float [B,3,H,W] in [-1,1] or uint8 [B,H,W,C] (C 1 or 3), any size (resized to
  // the model's, antialiased when shrinking); or decoded images (squashed to the model's size).
  at::Tensor encode_texts(const std::vector<std::string>& captions) const;
  at::Tensor encode_images(const at::Tensor& images) const;
  at::Tensor encode_images(const std::vector<Image>& images) const;

  // One caption against a batch of images -> [B] scores.
  at::Tensor score(const std::string& caption, const at::Tensor& images) const;
  at::Tensor score(const std::string& caption, const std::vector<Image>& images) const;
  // [Nt,P] x [Ni,P] -> [Nt,Ni] scores.
  at::Tensor similarity(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) const;
  // What the model was trained to softmax: the similarity times its learnt scale (the original's logit for kodalle).
  at::Tensor logits(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) const;

  const ClipConfig& config() const { return model_->config(); }
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  Clip model() const { return model_; }

 private:
  at::Tensor images_batch(const at::Tensor& images) const;  // -> float [B,3,S,S] in [-1,1]
  at::Tensor encode_prepared(const at::Tensor& images) const;
  // Inference never changes the model (eval mode, no grad), so const methods may run it.
  ClipImpl& impl() const { return *model_.ptr(); }

  Clip model_;
  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  ClipScorerOptions options_;
};

// Indices of `scores` [N] from best to worst; ties keep the input order (so rank is reproducible).
std::vector<int64_t> rank_order(const at::Tensor& scores);

}  // namespace couture
