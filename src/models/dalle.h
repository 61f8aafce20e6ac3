// The DALL-E transformer: caption tokens in, image codes out. Follows KoDALLE's `DALLE_Klue_Roberta` on
// dalle_pytorch 1.1.5 exactly (see DESIGN.md, "KoDALLE forward, exactly"); module and parameter names are the
// reference state dict keys for both residual layouts, so converted checkpoints load by name.
// B batch, T text_seq_len, N image_seq_len (= F x F codes), C dim, V logits.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "nn/attention.h"

namespace couture {

class SafetensorsFile;

struct DalleConfig {
  int64_t num_text_tokens = 32000;  // text vocabulary (klue/roberta: 32000); logits add text_seq_len more
  int64_t text_seq_len = 64;        // T
  int64_t text_pos_len = 514;       // rows of text_pos_emb (roberta's table: 514); at least T + 1
  int64_t dim = 1024, depth = 16, heads = 8, dim_head = 64, ff_mult = 4;
  int64_t image_fmap_size = 16;     // F: the VQGAN's code grid side
  int64_t num_image_tokens = 16384;  // the VQGAN's codebook size
  bool reversible = true;           // two streams averaged at the end, else sequential residuals
  double loss_img_weight = 7;
  double attn_dropout = 0.2, ff_dropout = 0.2;
  // Couture extensions (the original has none of these).
  bool mask_padding = false;       // keys at pad tokens are masked (the original attends to pads)
  int64_t text_pad_id = -1;        // the vocab's [PAD] id; needed by mask_padding and null captions
  double null_caption_prob = 0;    // training: caption replaced by all pads (classifier-free guidance)

  int64_t image_seq_len() const { return image_fmap_size * image_fmap_size; }
  int64_t text_logits() const { return num_text_tokens + text_seq_len; }  // first image logit index
  int64_t total_logits() const { return text_logits() + num_image_tokens; }
  int64_t total_seq_len() const { return text_seq_len + image_seq_len(); }

  // "kodalle" (the released model: depth 16, heads 8, T 64, reversible), "kodalle_v1_seq" (the older one: depth
  // 12, heads 16, T 128, sequential), "fmnist" (small, for Couture-FMNIST on a CPU).
  static DalleConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();
  // Fields absent from `json` keep the kodalle preset's values (KoDALLE's saved hparams omit dim and the VQGAN's
  // sizes). Reference options this model does not implement (rotary, token shift, sparse attention, ...) are
  // refused with a message naming the field; `where` names the source in errors.
  static DalleConfig from_json(const nlohmann::json& json, const std::string& where);
  nlohmann::json to_json() const;
  void validate(const std::string& where) const;
};

// The checkpoint's config: `config_path` if given, else the file's "config" metadata, else <stem>_config.json
// beside it. text_pos_len, absent from KoDALLE's configs, is read from the text_pos_emb tensor.
DalleConfig dalle_config_for(const SafetensorsFile& weights, const std::filesystem::path& config_path = {});

// Per-layer key/value caches of one decoding run.
struct DalleCache {
  std::vector<KVCache> layers;
  int64_t length() const { return layers.empty() ? 0 : layers[0].length; }
  DalleCache gather_rows(const std::vector<int64_t>& rows, int64_t capacity) const;
};

struct DalleLoss {
  at::Tensor loss, text_loss, image_loss;  // loss = (text + w * image) / (w + 1)
};

class DalleImpl : public torch::nn::Module {
 public:
  // weight_dtype kBFloat16 stores matmul and embedding weights in bf16 from the start (peak memory stays near
  // the bf16 size); norms, biases and LayerScale stay fp32, as does the residual stream.
  explicit DalleImpl(const DalleConfig& config, at::ScalarType weight_dtype = at::kFloat);
  const DalleConfig& config() const { return config_; }

  // The reference forward(text, image): masked logits [B, T + n, V] for text [B, T] and codes [B, n] (n may be
  // 0); with n = N the last position is dropped. Masked entries hold -max float.
  at::Tensor forward(const at::Tensor& text, const at::Tensor& codes = {});
  // The training loss. Only the logits a position may predict are computed (the masked ones add exactly zero).
  // With null_caption_prob > 0 in training mode, each caption is replaced by all pads with that probability.
  DalleLoss loss(const at::Tensor& text, const at::Tensor& codes, const at::Generator& generator = {});

  // Pieces for cached decoding (dalle_sampling) and tests.
  at::Tensor embed_text(const at::Tensor& text);                      // [B, T + 1, C]: BOS 0, text, positions
  at::Tensor embed_image(const at::Tensor& codes, int64_t first);     // [B, n, C] for codes at first..first+n-1
  at::Tensor key_keep(const at::Tensor& text);                        // [B, T + N] bool: pads false; {} if off
  // Transformer output for positions [p, p + n) (p = cache length); fills the cache when given.
  at::Tensor transform(const at::Tensor& x, const at::Tensor& key_keep = {}, DalleCache* cache = nullptr);
  at::Tensor image_logits(const at::Tensor& h);                       // [.., num_image_tokens], unmasked
  DalleCache new_cache(int64_t batch, int64_t capacity) const;
  at::Tensor null_caption(int64_t batch) const;                       // [B, T] of text_pad_id

  // Converts matmul and embedding weights (2-D) to `dtype`, once, for bf16 inference.
  void set_weight_dtype(at::ScalarType dtype);
  // Inference: packs the matmul weights once into oneDNN's blocked layout for the one-position decoding step
  // (transform() with a cache and one new position, then image_logits()), which then runs on packed kernels with
  // fused epilogues (dalle_packed.cpp; about 2x faster in bf16). Costs memory the size of the packed weights; the
  // training and full-sequence paths are unchanged. Call again after changing the weights.
  // inference_only: the plain copies of the feed-forward weights (two thirds of the transformer's) are released
  // and every feed-forward, the prompt's too, runs on the packed ones; forward() and loss() then refuse to run.
  // int8: the layers' products (not the image logits) store int8 weights and quantise their inputs on the fly
  // (nn/packed_linear.h; about 2x faster again on AVX-512 VNNI, at the quality measured in docs/dalle.md); where the
  // CPU has no optimised int8 kernel, the weights stay in their dtype.
  void pack_for_decoding(bool inference_only = false, bool int8 = false);
  bool packed_int8() const;
  bool packed_for_decoding() const { return packed_ != nullptr; }
  at::ScalarType weight_dtype() const { return text_emb->weight.scalar_type(); }
  int64_t parameter_count() const;

  torch::nn::Embedding text_emb{nullptr}, image_emb{nullptr}, text_pos_emb{nullptr};
  std::shared_ptr<torch::nn::Module> image_pos_emb, transformer;  // weights_0 [1,F,1,C], weights_1 [1,1,F,C]
  torch::nn::Sequential to_logits{nullptr};                         // 0: LayerNorm, 1: Linear

 private:
  struct Branch {  // LayerScale(PreNorm(fn)): scale * fn(norm(x))
    at::Tensor scale;
    torch::nn::LayerNorm norm{nullptr};
  };
  struct Block {  // one residual pair of the reference
    Branch attn_branch, ff_branch;
    CausalSelfAttention attn{nullptr};
    torch::nn::Linear ff_in{nullptr}, ff_out{nullptr};  // FeedForward net.0, net.3 (GEGLU between)
    torch::nn::Dropout ff_dropout{nullptr};              // net.2
  };
  at::Tensor feed_forward(Block& block, const at::Tensor& x);
  at::Tensor transform_packed(const at::Tensor& x, const at::Tensor& keep, DalleCache& cache);
  at::Tensor image_logits_packed(const at::Tensor& h);
  at::Tensor feed_forward_packed(size_t layer, const at::Tensor& x);
  bool inference_only_ = false;
  at::Tensor full_logits(const at::Tensor& h);

  DalleConfig config_;
  std::vector<Block> blocks_;
  at::Tensor pos_rows_, pos_cols_;  // image_pos_emb weights_0 / weights_1
  torch::nn::LayerNorm final_norm_{nullptr};
  torch::nn::Linear logits_proj_{nullptr};
  std::shared_ptr<const struct DallePackedWeights> packed_;
};
TORCH_MODULE(Dalle);

// Initialises text_emb and text_pos_emb from `couture text import` output (a language model's word and position
// embeddings): text_emb must match in shape; text_pos_emb may hold more rows than text_pos_len (the first are used).
void init_text_embeddings(DalleImpl& model, const SafetensorsFile& init);

// Loads a checkpoint by name (full key-set and shape check) into a model built from its config.
Dalle load_dalle(const std::filesystem::path& weights_path, const std::filesystem::path& config_path = {},
                 at::ScalarType weight_dtype = at::kFloat);

}  // namespace couture
