// The VQGAN image tokenizer, laid out as taming-transformers' VQModel (taming/models/vqgan.py; Encoder and Decoder
// from taming/modules/diffusionmodules/model.py; VectorQuantizer2 with the legacy beta from
// taming/modules/vqvae/quantize.py). Keys: encoder.*, decoder.*, quantize.embedding.weight, quant_conv.*,
// post_quant_conv.*, so taming checkpoints converted to safetensors load by name.
//
// B batch, C channels, H x W image (in [-1, 1]), f = 2^(levels-1) the downsampling factor, h x w = H/f x W/f the
// code grid, D embed_dim, K n_embed (codebook size).
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/vqgan_quantize.h"
#include "nn/taming_blocks.h"

namespace couture {

class SafetensorsFile;

// taming's ddconfig plus the quantizer's embed_dim and n_embed (JSON keys are these names).
struct VQGanConfig {
  int64_t resolution = 256;  // training image side; attention levels are found by it
  int64_t in_channels = 3;
  int64_t out_ch = 3;
  int64_t ch = 128;
  std::vector<int64_t> ch_mult{1, 1, 2, 2, 4};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attn_resolutions{16};
  int64_t z_channels = 256;
  double dropout = 0.0;
  int64_t embed_dim = 256;
  int64_t n_embed = 16384;
  double beta = 0.25;  // legacy VectorQuantizer2: weighs the codebook term, the commitment term has weight 1
  int64_t norm_groups = 32;  // GroupNorm groups (taming: 32); a Couture extension for narrow models
  bool l2_normalize = false;  // codes compared and decoded as unit vectors (ViT-VQGAN's lookup; a Couture extension)

  static VQGanConfig kodalle();  // the original KoDALLE VQGAN: 256 px, f16, 16384 x 256
  static VQGanConfig fmnist();   // Couture-FMNIST: 64 px, f8, 512 x 64 (see docs/vqgan.md)
  static VQGanConfig preset(const std::string& name);  // InputError listing the presets
  static std::vector<std::string> preset_names();

  // Flat (taming's ddconfig keys beside embed_dim and n_embed) or taming's model params ({"ddconfig": {...},
  // "embed_dim", "n_embed"}). Unknown keys and unsupported taming options are refused, naming `where` and the key.
  static VQGanConfig from_json(const nlohmann::json& j, const std::string& where);
  static VQGanConfig load(const std::filesystem::path& path);
  nlohmann::ordered_json to_json() const;
  void validate(const std::string& where) const;

  int64_t levels() const { return int64_t(ch_mult.size()); }
  int64_t downsample_factor() const { return int64_t(1) << (levels() - 1); }
  int64_t grid_size() const { return resolution / downsample_factor(); }  // h = w at the training resolution
};

// One resolution level: taming's `down.N` (blocks, then downsample) or `up.N` (blocks, then upsample).
class VQLevelImpl : public torch::nn::Module {
 public:
  VQLevelImpl(int64_t in_channels, int64_t out_channels, int64_t num_blocks, bool with_attention, double dropout,
              int64_t groups = 32);
  at::Tensor forward_blocks(at::Tensor x);

  torch::nn::ModuleList block{nullptr}, attn{nullptr};
  Downsample downsample{nullptr};
  Upsample upsample{nullptr};

 private:
  std::vector<ResnetBlock> blocks_;
  std::vector<AttnBlock> attns_;
};
TORCH_MODULE(VQLevel);

// taming's `mid`: block_1, attn_1, block_2.
class VQMidImpl : public torch::nn::Module {
 public:
  VQMidImpl(int64_t channels, double dropout, int64_t groups = 32);
  at::Tensor forward(const at::Tensor& x);

  ResnetBlock block_1{nullptr}, block_2{nullptr};
  AttnBlock attn_1{nullptr};
};
TORCH_MODULE(VQMid);

// [B, in_channels, H, W] -> [B, z_channels, h, w].
class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const VQGanConfig& config);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList down{nullptr};
  VQMid mid{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};

 private:
  std::vector<VQLevel> levels_;
};
TORCH_MODULE(Encoder);

// [B, z_channels, h, w] -> [B, out_ch, H, W]. `up.N` is level N (taming builds them top-down and prepends).
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const VQGanConfig& config);
  at::Tensor forward(const at::Tensor& z);

  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  VQMid mid{nullptr};
  torch::nn::ModuleList up{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};

 private:
  std::vector<VQLevel> levels_;
};
TORCH_MODULE(Decoder);

struct VQEncoded {
  at::Tensor h;              // quant_conv(encoder(x)) [B, D, h, w]
  at::Tensor zq;             // quantized h, straight-through [B, D, h, w]
  at::Tensor indices;        // [B, h*w] int64, row-major over the grid
  at::Tensor codebook_loss;  // scalar
};

class VQModelImpl : public torch::nn::Module {
 public:
  explicit VQModelImpl(const VQGanConfig& config);

  VQEncoded encode(const at::Tensor& x);
  at::Tensor decode(const at::Tensor& zq);            // -> [B, out_ch, H, W]
  at::Tensor decode_codes(const at::Tensor& indices);  // [B, h*w] (square grid) or [B, h, w]
  at::Tensor encode_codes(const at::Tensor& x) { return encode(x).indices; }
  const at::Tensor& last_layer() const { return decoder->conv_out->weight; }  // for the adaptive GAN weight
  const VQGanConfig& config() const { return config_; }

  Encoder encoder{nullptr};
  Decoder decoder{nullptr};
  VectorQuantizer quantize{nullptr};
  torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};

 private:
  VQGanConfig config_;
};
TORCH_MODULE(VQModel);

// Safetensors metadata that makes a weights file self-describing: {"format": "couture-vqgan", "config": JSON}.
std::map<std::string, std::string> vqgan_metadata(const VQGanConfig& config);
void save_vqgan(const std::filesystem::path& path, VQModel& model);

// The config for a weights file: `config_path` when given, else the file's "config" metadata, else
// `<stem>_config.json` beside it; InputError saying which were tried otherwise.
VQGanConfig find_vqgan_config(const SafetensorsFile& weights, const std::optional<std::filesystem::path>& config_path);
// Builds the model and loads every tensor by name (full key-set and shape check naming the tensor).
VQModel load_vqgan(const std::filesystem::path& weights,
                   const std::optional<std::filesystem::path>& config_path = std::nullopt);

}  // namespace couture
