#include "models/vqgan.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"

namespace couture {

// ---- config ----------------------------------------------------------------------------------------------------

VQGanConfig VQGanConfig::kodalle() { return VQGanConfig{}; }

VQGanConfig VQGanConfig::fmnist() {
  VQGanConfig c;
  c.resolution = 64;
  c.ch = 32;
  c.norm_groups = 8;  // 4 channels per group at ch 32, as taming's 128/32 (32 groups would normalise every channel
                      // alone, an instance norm; see docs/vqgan.md)
  c.ch_mult = {1, 2, 2, 4};  // f8: 64 px -> 8x8 = 64 codes
  c.num_res_blocks = 1;
  c.attn_resolutions = {8};
  c.z_channels = 64;
  c.embed_dim = 64;
  c.n_embed = 512;
  return c;
}

std::vector<std::string> VQGanConfig::preset_names() { return {"kodalle", "fmnist"}; }

VQGanConfig VQGanConfig::preset(const std::string& name) {
  if (name == "kodalle") return kodalle();
  if (name == "fmnist") return fmnist();
  throw InputError("unknown vqgan preset '" + name + "' (presets: kodalle, fmnist)");
}

VQGanConfig VQGanConfig::from_json(const nlohmann::json& root, const std::string& where) {
  COUTURE_CHECK_INPUT(root.is_object(), where, ": the vqgan config must be a JSON object");
  // taming's yaml as JSON: {"model": {"target": ..., "params": {"ddconfig": {...}, "embed_dim", "n_embed"}}}.
  const nlohmann::json* j = &root;
  if (j->contains("model") && (*j)["model"].is_object()) j = &(*j)["model"];
  if (j->contains("params") && (*j)["params"].is_object()) j = &(*j)["params"];
  nlohmann::json flat = *j;
  if (flat.contains("ddconfig")) {
    COUTURE_CHECK_INPUT(flat["ddconfig"].is_object(), where, ": 'ddconfig' must be an object");
    for (const auto& [key, value] : flat["ddconfig"].items()) flat[key] = value;
    flat.erase("ddconfig");
  }
  // taming keys that do not change the network (training-side or bookkeeping); anything else unknown is refused.
  static const std::set<std::string> ignored = {"target", "lossconfig", "ckpt_path", "ignore_keys", "image_key",
                                                "monitor", "sane_index_shape", "colorize_nlabels"};
  VQGanConfig c;
  for (const auto& [key, value] : flat.items()) {
    auto field = where + ": field '" + key + "'";
    try {
      if (key == "resolution") c.resolution = value.get<int64_t>();
      else if (key == "in_channels") c.in_channels = value.get<int64_t>();
      else if (key == "out_ch") c.out_ch = value.get<int64_t>();
      else if (key == "ch") c.ch = value.get<int64_t>();
      else if (key == "ch_mult") c.ch_mult = value.get<std::vector<int64_t>>();
      else if (key == "num_res_blocks") c.num_res_blocks = value.get<int64_t>();
      else if (key == "attn_resolutions") c.attn_resolutions = value.get<std::vector<int64_t>>();
      else if (key == "z_channels") c.z_channels = value.get<int64_t>();
      else if (key == "dropout") c.dropout = value.get<double>();
      else if (key == "embed_dim") c.embed_dim = value.get<int64_t>();
      else if (key == "n_embed") c.n_embed = value.get<int64_t>();
      else if (key == "beta") c.beta = value.get<double>();
      else if (key == "norm_groups") c.norm_groups = value.get<int64_t>();
      else if (key == "l2_normalize") c.l2_normalize = value.get<bool>();
      else if (key == "double_z") COUTURE_CHECK_INPUT(!value.get<bool>(), field, ": double_z is not used by a VQGAN");
      else if (key == "resamp_with_conv")
        COUTURE_CHECK_INPUT(value.get<bool>(), field, ": only resamp_with_conv = true is supported");
      else if (key == "give_pre_end") COUTURE_CHECK_INPUT(!value.get<bool>(), field, ": give_pre_end is not supported");
      else if (key == "remap") COUTURE_CHECK_INPUT(value.is_null(), field, ": code remapping is not supported");
      else if (!ignored.count(key)) throw InputError(field + " is unknown");
    } catch (const nlohmann::json::exception& e) {
      throw InputError(field + " has the wrong type (" + value.dump() + ")");
    }
  }
  c.validate(where);
  return c;
}

VQGanConfig VQGanConfig::load(const std::filesystem::path& path) {
  COUTURE_CHECK_INPUT(std::filesystem::is_regular_file(path), "vqgan config '", path.string(), "' does not exist");
  return from_json(read_json_file(path), "vqgan config '" + path.string() + "'");
}

nlohmann::ordered_json VQGanConfig::to_json() const {
  nlohmann::ordered_json j;
  j["resolution"] = resolution;
  j["in_channels"] = in_channels;
  j["out_ch"] = out_ch;
  j["ch"] = ch;
  j["ch_mult"] = ch_mult;
  j["num_res_blocks"] = num_res_blocks;
  j["attn_resolutions"] = attn_resolutions;
  j["z_channels"] = z_channels;
  j["dropout"] = dropout;
  j["embed_dim"] = embed_dim;
  j["n_embed"] = n_embed;
  j["beta"] = beta;
  if (norm_groups != 32) j["norm_groups"] = norm_groups;  // a Couture extension: taming's configs never carry it
  if (l2_normalize) j["l2_normalize"] = true;               // likewise
  return j;
}

void VQGanConfig::validate(const std::string& where) const {
  auto positive = [&](int64_t v, const char* name) {
    COUTURE_CHECK_INPUT(v > 0, where, ": field '", name, "' must be positive, got ", v);
  };
  positive(resolution, "resolution");
  positive(in_channels, "in_channels");
  positive(out_ch, "out_ch");
  positive(ch, "ch");
  positive(num_res_blocks, "num_res_blocks");
  positive(z_channels, "z_channels");
  positive(embed_dim, "embed_dim");
  positive(n_embed, "n_embed");
  COUTURE_CHECK_INPUT(!ch_mult.empty() && ch_mult.size() <= 8, where, ": field 'ch_mult' must hold 1 to 8 levels");
  positive(norm_groups, "norm_groups");
  for (int64_t m : ch_mult)
    COUTURE_CHECK_INPUT(m > 0 && (ch * m) % norm_groups == 0, where, ": field 'ch_mult': ch * ", m,
                        " must be a positive multiple of ", norm_groups, " (GroupNorm uses ", norm_groups, " groups)");
  COUTURE_CHECK_INPUT(resolution % downsample_factor() == 0, where, ": resolution ", resolution,
                      " is not divisible by the downsampling factor ", downsample_factor());
  COUTURE_CHECK_INPUT(dropout >= 0 && dropout < 1, where, ": field 'dropout' must be in [0, 1)");
  COUTURE_CHECK_INPUT(beta >= 0, where, ": field 'beta' must be non-negative");
}

// ---- network ---------------------------------------------------------------------------------------------------

VQLevelImpl::VQLevelImpl(int64_t in_channels, int64_t out_channels, int64_t num_blocks, bool with_attention,
                         double dropout, int64_t groups) {
  block = register_module("block", torch::nn::ModuleList());
  attn = register_module("attn", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_blocks; ++i) {
    blocks_.push_back(ResnetBlock(i == 0 ? in_channels : out_channels, out_channels, dropout, groups));
    block->push_back(blocks_.back());
    if (with_attention) {
      attns_.push_back(AttnBlock(out_channels, groups));
      attn->push_back(attns_.back());
    }
  }
}

at::Tensor VQLevelImpl::forward_blocks(at::Tensor x) {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    x = blocks_[i](x);
    if (!attns_.empty()) x = attns_[i](x);
  }
  return x;
}

VQMidImpl::VQMidImpl(int64_t channels, double dropout, int64_t groups) {
  block_1 = register_module("block_1", ResnetBlock(channels, channels, dropout, groups));
  attn_1 = register_module("attn_1", AttnBlock(channels, groups));
  block_2 = register_module("block_2", ResnetBlock(channels, channels, dropout, groups));
}

at::Tensor VQMidImpl::forward(const at::Tensor& x) { return block_2(attn_1(block_1(x))); }

namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

bool has(const std::vector<int64_t>& values, int64_t v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

EncoderImpl::EncoderImpl(const VQGanConfig& c) {
  conv_in = register_module("conv_in", conv3x3(c.in_channels, c.ch));
  down = register_module("down", torch::nn::ModuleList());
  int64_t res = c.resolution, block_in = c.ch;
  for (int64_t level = 0; level < c.levels(); ++level) {
    const int64_t block_out = c.ch * c.ch_mult[size_t(level)];
    auto l = VQLevel(block_in, block_out, c.num_res_blocks, has(c.attn_resolutions, res), c.dropout, c.norm_groups);
    if (level != c.levels() - 1) {
      l->downsample = l->register_module("downsample", Downsample(block_out));
      res /= 2;
    }
    levels_.push_back(l);
    down->push_back(l);
    block_in = block_out;
  }
  mid = register_module("mid", VQMid(block_in, c.dropout, c.norm_groups));
  norm_out = register_module("norm_out", taming_group_norm(block_in, c.norm_groups));
  conv_out = register_module("conv_out", conv3x3(block_in, c.z_channels));
}

at::Tensor EncoderImpl::forward(const at::Tensor& x) {
  auto h = conv_in(x);
  for (auto& level : levels_) {
    h = level->forward_blocks(h);
    if (level->downsample) h = level->downsample(h);
  }
  h = mid(h);
  return conv_out(swish(group_norm(norm_out, h)));
}

DecoderImpl::DecoderImpl(const VQGanConfig& c) {
  int64_t block_in = c.ch * c.ch_mult.back();
  int64_t res = c.resolution / c.downsample_factor();
  conv_in = register_module("conv_in", conv3x3(c.z_channels, block_in));
  mid = register_module("mid", VQMid(block_in, c.dropout, c.norm_groups));
  levels_.assign(size_t(c.levels()), VQLevel(nullptr));
  for (int64_t level = c.levels() - 1; level >= 0; --level) {
    const int64_t block_out = c.ch * c.ch_mult[size_t(level)];
    auto l = VQLevel(block_in, block_out, c.num_res_blocks + 1, has(c.attn_resolutions, res), c.dropout,
                     c.norm_groups);
    if (level != 0) {
      l->upsample = l->register_module("upsample", Upsample(block_out));
      res *= 2;
    }
    levels_[size_t(level)] = l;
    block_in = block_out;
  }
  up = register_module("up", torch::nn::ModuleList());
  for (auto& l : levels_) up->push_back(l);
  norm_out = register_module("norm_out", taming_group_norm(block_in, c.norm_groups));
  conv_out = register_module("conv_out", conv3x3(block_in, c.out_ch));
}

at::Tensor DecoderImpl::forward(const at::Tensor& z) {
  auto h = mid(conv_in(z));
  for (auto level = levels_.rbegin(); level != levels_.rend(); ++level) {
    h = (*level)->forward_blocks(h);
    if ((*level)->upsample) h = (*level)->upsample(h);
  }
  return conv_out(swish(group_norm(norm_out, h)));
}

VQModelImpl::VQModelImpl(const VQGanConfig& config) : config_(config) {
  config_.validate("vqgan config");
  encoder = register_module("encoder", Encoder(config_));
  decoder = register_module("decoder", Decoder(config_));
  quantize = register_module("quantize", VectorQuantizer(config_.n_embed, config_.embed_dim, config_.beta, config_.l2_normalize));
  quant_conv = register_module("quant_conv",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(config_.z_channels, config_.embed_dim, 1)));
  post_quant_conv = register_module(
      "post_quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(config_.embed_dim, config_.z_channels, 1)));
}

VQEncoded VQModelImpl::encode(const at::Tensor& x) {
  COUTURE_CHECK_INPUT(x.dim() == 4 && x.size(1) == config_.in_channels, "vqgan encode: expected images [B, ",
                      config_.in_channels, ", H, W], got ", x.sizes());
  const int64_t f = config_.downsample_factor();
  COUTURE_CHECK_INPUT(x.size(2) % f == 0 && x.size(3) % f == 0, "vqgan encode: image size ", x.size(2), "x",
                      x.size(3), " is not divisible by the downsampling factor ", f);
  VQEncoded out;
  out.h = quant_conv(encoder(x));
  auto q = quantize(out.h);
  out.zq = q.zq;
  out.indices = q.indices;
  out.codebook_loss = q.loss;
  return out;
}

at::Tensor VQModelImpl::decode(const at::Tensor& zq) { return decoder(post_quant_conv(zq)); }

at::Tensor VQModelImpl::decode_codes(const at::Tensor& indices) {
  int64_t h = 0, w = 0;
  if (indices.dim() == 3) {
    h = indices.size(1);
    w = indices.size(2);
  } else {
    COUTURE_CHECK_INPUT(indices.dim() == 2, "vqgan decode: expected codes [B, h*w] or [B, h, w], got ",
                        indices.sizes());
    h = int64_t(std::lround(std::sqrt(double(indices.size(1)))));
    w = h;
    COUTURE_CHECK_INPUT(h * w == indices.size(1), "vqgan decode: ", indices.size(1),
                        " codes per image do not form a square grid; pass [B, h, w]");
  }
  auto zq = quantize->lookup(indices, h, w);
  const auto& weight = post_quant_conv->weight;
  return decode(zq.to(weight.scalar_type()).contiguous(weight.suggest_memory_format()));
}

// ---- files -----------------------------------------------------------------------------------------------------

std::map<std::string, std::string> vqgan_metadata(const VQGanConfig& config) {
  return {{"format", "couture-vqgan"}, {"config", config.to_json().dump()}};
}

void save_vqgan(const std::filesystem::path& path, VQModel& model) {
  save_tensors(path, state_dict(*model), vqgan_metadata(model->config()));
}

VQGanConfig find_vqgan_config(const SafetensorsFile& weights,
                              const std::optional<std::filesystem::path>& config_path) {
  if (config_path) return VQGanConfig::load(*config_path);
  auto it = weights.metadata().find("config");
  if (it != weights.metadata().end()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw InputError("vqgan weights '" + weights.source() + "': metadata 'config' is not valid JSON");
    }
    return VQGanConfig::from_json(j, "vqgan weights '" + weights.source() + "' metadata 'config'");
  }
  std::filesystem::path source(weights.source());
  auto sibling = source.parent_path() / (source.stem().string() + "_config.json");
  if (std::filesystem::exists(sibling)) return VQGanConfig::load(sibling);
  throw InputError("vqgan weights '" + weights.source() + "' carry no config (metadata 'config') and '" +
                   sibling.string() + "' does not exist; pass the config JSON (--config)");
}

VQModel load_vqgan(const std::filesystem::path& weights, const std::optional<std::filesystem::path>& config_path) {
  auto file = SafetensorsFile::open(weights);
  VQModel model(find_vqgan_config(file, config_path));
  load_state_dict(*model, file, "vqgan");
  return model;
}

}  // namespace couture
