// KoCLIP, the reranker, as KoDALLE builds it (KR-HappyFace/KoDALLE clip/clipmodel.py, clip/train_clip.py): an
// EfficientNet-B0 image tower (timm, num_classes=0, average pool, 1280-d), a RoBERTa text tower ([CLS], 768-d) and one
// Linear to 512 on each side. State-dict keys follow the original: image_encoder.model.* (timm), text_encoder.model.*
// (Hugging Face RobertaModel), image_projection.projection.*, text_projection.projection.*; with the CLIP loss a
// learnable `logit_scale` (OpenAI CLIP's name) is added.
//
// Flow: ids [B,T] + mask -> encode_text -> [B,P];  images [B,3,S,S] in [-1,1] -> encode_image -> [B,P];
// logits(text, image) [Bt,Bi] -> clip_loss. B batch, T tokens, S image side, P projection size.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/efficientnet.h"
#include "models/roberta.h"

namespace couture {

struct Image;
class SafetensorsFile;
class WordPieceTokenizer;

enum class ClipLoss {
  Clip,     // L2-normalised embeddings, learnable temperature (logit_scale), symmetric cross-entropy
  Kodalle,  // the original: raw dot products times 0.07, symmetric cross-entropy
};
ClipLoss parse_clip_loss(const std::string& name);  // "clip" | "kodalle"; InputError otherwise
const char* clip_loss_name(ClipLoss loss);

struct ClipConfig {
  std::string preset_name = "kodalle";  // "preset" in JSON
  EfficientNetConfig image;              // B0
  RobertaConfig text{.pooler = true};    // klue/roberta-base with its pooler, as KoCLIP's checkpoints hold
  int64_t image_size = 224;
  int64_t projection_dim = 512;
  int64_t max_text_tokens = 128;         // KoCLIP tokenised with max_length 128
  ClipLoss loss = ClipLoss::Clip;
  // Images come in [-1,1] (the project's convention: dataset batches, VQGAN output); the tower sees
  // (pixel in [0,1] - mean) / std. kodalle: the original fed raw 0..255 values (mean 0, std 1/255).
  std::array<double, 3> image_mean{0.0, 0.0, 0.0};
  std::array<double, 3> image_std{1.0 / 255, 1.0 / 255, 1.0 / 255};
  double logit_scale_init = 2.6592600369327779;  // log(1 / 0.07), as OpenAI CLIP
  double logit_scale_max = 100.0;                // exp(logit_scale) is clamped here
  double kodalle_temperature = 0.07;             // the original multiplies the logits by it

  // "kodalle": B0 at 224 px + roberta-base, 512-d. "fmnist": small towers at 64 px that train here in minutes.
  // "tiny": for tests only (32 px, one small text layer); trains a step in milliseconds and learns little.
  static ClipConfig preset(const std::string& name);
  // The tokenizer decides these: vocabulary size and pad id (position ids start after it).
  void set_vocab(int64_t vocab_size, int64_t pad_id);

  nlohmann::ordered_json to_json() const;
  static ClipConfig from_json(const nlohmann::ordered_json& j);  // InputError naming the field
};

class ClipImpl : public torch::nn::Module {
 public:
  explicit ClipImpl(const ClipConfig& config = {});

  at::Tensor encode_image(const at::Tensor& images);                          // [B,3,S,S] in [-1,1] -> [B,P]
  at::Tensor encode_text(const at::Tensor& ids, const at::Tensor& mask = {});  // [B,T] int64 -> [B,P]
  // What the loss sees: exp(logit_scale) * cosine (clip) or 0.07 * dot product (kodalle). [Bt,P],[Bi,P] -> [Bt,Bi]
  at::Tensor logits(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings);
  // The score a user sees when ranking: cosine similarity (clip) or the original's logit (kodalle).
  at::Tensor similarity(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings);
  at::Tensor loss(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings);

  // Initialisation for training from scratch, drawn from `generator`: timm's init for the image tower, HF's for the
  // text tower, PyTorch's Linear default for the projections, log(1/0.07) for logit_scale.
  void reset_parameters(at::Generator generator);
  const ClipConfig& config() const { return config_; }

  EfficientNet image_model{nullptr};  // registered as image_encoder.model
  RobertaModel text_model{nullptr};   // registered as text_encoder.model
  torch::nn::Linear image_projection{nullptr}, text_projection{nullptr};  // *.projection
  at::Tensor logit_scale;             // only with ClipLoss::Clip

 private:
  ClipConfig config_;
  at::Tensor mean_, std_;
};
TORCH_MODULE(Clip);

// Captions tokenised for the text tower: [CLS] ... [SEP] truncated to max_tokens, padded only to the longest caption
// of the batch (the tower is padding-invariant, so shorter batches cost less). ids int64 [B,T], mask int64 [B,T].
struct TokenBatch {
  at::Tensor ids, mask;
};
TokenBatch tokenize_captions(const WordPieceTokenizer& tokenizer, const std::vector<std::string>& captions,
                             int64_t max_tokens);

// Symmetric cross-entropy over a square logit matrix whose diagonal holds the matching pairs.
at::Tensor clip_loss(const at::Tensor& logits);
// The same with hard negatives: `negative_logits` [N, B] are N captions that match none of the B images (a true
// caption with one attribute changed); each image picks its caption among the B true ones and the N negatives,
// each true caption its image among the B images.
at::Tensor clip_loss(const at::Tensor& logits, const at::Tensor& negative_logits);

// RGB (or grey) images squashed to size x size (as the original's Resize) -> [B,3,size,size] float in [-1,1].
at::Tensor resize_to_batch(const std::vector<Image>& images, int64_t size);

// Augmentation for garment photos: geometry only, never colour (colour is what captions describe).
struct GarmentAugment {
  double min_area = 0.8;        // random resized crop keeps at least this fraction of the area
  double max_aspect = 1.15;     // crop aspect ratio in [1/max_aspect, max_aspect], log-uniform
  double max_translate = 0.05;  // extra shift, as a fraction of the side
  double flip = 0.5;            // horizontal flip probability
};
// images [B,C,H,W] float -> same shape; bilinear resampling, borders replicated. Draws 7 numbers per image.
at::Tensor augment_garments(const at::Tensor& images, at::Generator generator, const GarmentAugment& options = {});

// Self-describing model files: the config travels as JSON in the safetensors metadata ("couture.clip").
std::map<std::string, std::string> clip_metadata(const ClipConfig& config);
ClipConfig clip_config_from(const SafetensorsFile& file);  // InputError naming the file when absent or bad
void save_clip(const std::filesystem::path& path, ClipImpl& model);
Clip load_clip(const SafetensorsFile& file);  // in eval mode
Clip load_clip(const std::filesystem::path& path);

}  // namespace couture
