#include "models/clip.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "text/wordpiece.h"

namespace couture {

namespace {

constexpr const char* kMetadataKey = "couture.clip";
constexpr int kConfigVersion = 1;

// A plain module that only puts its children under a name (KoCLIP's ImageEncoder, TextEncoder, ProjectionHead).
std::shared_ptr<torch::nn::Module> scope(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>(name));
}

}  // namespace

ClipLoss parse_clip_loss(const std::string& name) {
  if (name == "clip") return ClipLoss::Clip;
  if (name == "kodalle") return ClipLoss::Kodalle;
  throw InputError("unknown CLIP loss '" + name + "' (expected clip or kodalle)");
}

const char* clip_loss_name(ClipLoss loss) { return loss == ClipLoss::Clip ? "clip" : "kodalle"; }

ClipConfig ClipConfig::preset(const std::string& name) {
  ClipConfig c;
  c.preset_name = name;
  if (name == "kodalle") return c;
  if (name == "fmnist") {
    // Sized so that `couture train clip --preset fmnist` fits in 20 minutes on 2 CPU cores (docs/clip.md).
    c.image.width_multiplier = 0.5;
    c.image.depth_multiplier = 0.5;
    c.image.drop_path_rate = 0.1;
    c.image_size = 64;
    c.text.pooler = false;  // unused by the loss; only kept in kodalle for KoCLIP's key set
    c.text.hidden = 256;
    c.text.layers = 2;
    c.text.heads = 4;
    c.text.intermediate = 1024;
    c.max_text_tokens = 64;
    c.text.max_position_embeddings = c.max_text_tokens + c.text.pad_id + 1;
    c.projection_dim = 256;
    c.image_mean = {0.5, 0.5, 0.5};
    c.image_std = {0.5, 0.5, 0.5};
    return c;
  }
  if (name == "tiny") {
    c.image.width_multiplier = 0.25;
    c.image.depth_multiplier = 0.25;
    c.image.drop_path_rate = 0.0;
    c.image_size = 32;
    c.text.pooler = false;
    c.text.hidden = 32;
    c.text.layers = 1;
    c.text.heads = 2;
    c.text.intermediate = 64;
    c.max_text_tokens = 64;
    c.text.max_position_embeddings = c.max_text_tokens + c.text.pad_id + 1;
    c.projection_dim = 32;
    c.image_mean = {0.5, 0.5, 0.5};
    c.image_std = {0.5, 0.5, 0.5};
    return c;
  }
  throw InputError("unknown CLIP preset '" + name + "' (expected kodalle, fmnist or tiny)");
}

void ClipConfig::set_vocab(int64_t vocab_size, int64_t pad_id) {
  COUTURE_CHECK_INPUT(vocab_size > 0 && pad_id >= 0 && pad_id < vocab_size, "clip config: pad id ", pad_id,
                      " outside a vocabulary of ", vocab_size);
  text.vocab_size = vocab_size;
  text.pad_id = pad_id;
  text.max_position_embeddings = std::max(text.max_position_embeddings, max_text_tokens + pad_id + 1);
}

nlohmann::ordered_json ClipConfig::to_json() const {
  nlohmann::ordered_json j;
  j["version"] = kConfigVersion;
  j["preset"] = preset_name;
  j["image"] = {{"width_multiplier", image.width_multiplier}, {"depth_multiplier", image.depth_multiplier},
                {"in_channels", image.in_channels},           {"drop_path_rate", image.drop_path_rate},
                {"bn_eps", image.bn_eps},                     {"bn_momentum", image.bn_momentum}};
  j["text"] = {{"vocab_size", text.vocab_size},
               {"hidden", text.hidden},
               {"layers", text.layers},
               {"heads", text.heads},
               {"intermediate", text.intermediate},
               {"max_position_embeddings", text.max_position_embeddings},
               {"type_vocab_size", text.type_vocab_size},
               {"pad_id", text.pad_id},
               {"layer_norm_eps", text.layer_norm_eps},
               {"hidden_dropout", text.hidden_dropout},
               {"attention_dropout", text.attention_dropout},
               {"pooler", text.pooler}};
  j["image_size"] = image_size;
  j["projection_dim"] = projection_dim;
  j["max_text_tokens"] = max_text_tokens;
  j["loss"] = clip_loss_name(loss);
  j["image_mean"] = image_mean;
  j["image_std"] = image_std;
  j["logit_scale_init"] = logit_scale_init;
  j["logit_scale_max"] = logit_scale_max;
  j["kodalle_temperature"] = kodalle_temperature;
  return j;
}

ClipConfig ClipConfig::from_json(const nlohmann::ordered_json& j) {
  ClipConfig c;
  std::string field;
  // Every field is required: a file that lacks one was not written by this code and must not half-load.
  auto get = [&](const nlohmann::ordered_json& obj, const std::string& name, auto& out) {
    field = name;
    out = obj.at(name).get<std::decay_t<decltype(out)>>();
  };
  try {
    int version = 0;
    get(j, "version", version);
    COUTURE_CHECK_INPUT(version == kConfigVersion, "clip config: version ", version, " is not supported (expected ",
                        kConfigVersion, ")");
    get(j, "preset", c.preset_name);
    const auto& im = j.at("image");
    get(im, "width_multiplier", c.image.width_multiplier);
    get(im, "depth_multiplier", c.image.depth_multiplier);
    get(im, "in_channels", c.image.in_channels);
    get(im, "drop_path_rate", c.image.drop_path_rate);
    get(im, "bn_eps", c.image.bn_eps);
    get(im, "bn_momentum", c.image.bn_momentum);
    const auto& t = j.at("text");
    get(t, "vocab_size", c.text.vocab_size);
    get(t, "hidden", c.text.hidden);
    get(t, "layers", c.text.layers);
    get(t, "heads", c.text.heads);
    get(t, "intermediate", c.text.intermediate);
    get(t, "max_position_embeddings", c.text.max_position_embeddings);
    get(t, "type_vocab_size", c.text.type_vocab_size);
    get(t, "pad_id", c.text.pad_id);
    get(t, "layer_norm_eps", c.text.layer_norm_eps);
    get(t, "hidden_dropout", c.text.hidden_dropout);
    get(t, "attention_dropout", c.text.attention_dropout);
    get(t, "pooler", c.text.pooler);
    get(j, "image_size", c.image_size);
    get(j, "projection_dim", c.projection_dim);
    get(j, "max_text_tokens", c.max_text_tokens);
    std::string loss;
    get(j, "loss", loss);
    c.loss = parse_clip_loss(loss);
    get(j, "image_mean", c.image_mean);
    get(j, "image_std", c.image_std);
    get(j, "logit_scale_init", c.logit_scale_init);
    get(j, "logit_scale_max", c.logit_scale_max);
    get(j, "kodalle_temperature", c.kodalle_temperature);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("clip config: field '" + field + "': " + e.what());
  }
  COUTURE_CHECK_INPUT(c.image_size >= 32 && c.projection_dim > 0 && c.max_text_tokens > 0 &&
                          c.max_text_tokens <= c.text.max_tokens(),
                      "clip config: image_size ", c.image_size, ", projection_dim ", c.projection_dim,
                      ", max_text_tokens ", c.max_text_tokens, " (at most ", c.text.max_tokens(), ") are not usable");
  for (double s : c.image_std) COUTURE_CHECK_INPUT(s > 0, "clip config: image_std must be positive");
  return c;
}

ClipImpl::ClipImpl(const ClipConfig& config) : config_(config) {
  image_model = scope(*this, "image_encoder")->register_module("model", EfficientNet(config.image));
  text_model = scope(*this, "text_encoder")->register_module("model", RobertaModel(config.text));
  image_projection = scope(*this, "image_projection")
                         ->register_module("projection", torch::nn::Linear(image_model->num_features(),
                                                                           config.projection_dim));
  text_projection = scope(*this, "text_projection")
                        ->register_module("projection", torch::nn::Linear(config.text.hidden, config.projection_dim));
  if (config.loss == ClipLoss::Clip)
    logit_scale = register_parameter("logit_scale", torch::full({}, config.logit_scale_init));
  // Normalisation constants are not state: they come from the config, so they are plain members.
  mean_ = torch::tensor(std::vector<double>(config.image_mean.begin(), config.image_mean.end()), at::kFloat)
              .view({1, 3, 1, 1});
  std_ = torch::tensor(std::vector<double>(config.image_std.begin(), config.image_std.end()), at::kFloat)
             .view({1, 3, 1, 1});
}

at::Tensor ClipImpl::encode_image(const at::Tensor& images) {
  COUTURE_CHECK_INPUT(images.dim() == 4 && images.size(1) == 3, "clip: images must be [B,3,H,W], got ",
                      images.sizes());
  auto mean = mean_.to(images.device(), images.scalar_type()), std = std_.to(images.device(), images.scalar_type());
  return image_projection->forward(image_model->forward(((images + 1) * 0.5 - mean) / std));
}

at::Tensor ClipImpl::encode_text(const at::Tensor& ids, const at::Tensor& mask) {
  return text_projection->forward(text_model->cls(ids, mask));
}

at::Tensor ClipImpl::logits(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) {
  if (config_.loss == ClipLoss::Kodalle)
    return at::matmul(text_embeddings, image_embeddings.t()) * config_.kodalle_temperature;
  auto scale = logit_scale.exp().clamp_max(config_.logit_scale_max);
  return similarity(text_embeddings, image_embeddings) * scale;
}

at::Tensor ClipImpl::similarity(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) {
  if (config_.loss == ClipLoss::Kodalle) return logits(text_embeddings, image_embeddings);
  auto normalise = [](const at::Tensor& x) { return x / x.norm(2, -1, /*keepdim=*/true).clamp_min(1e-12); };
  return at::matmul(normalise(text_embeddings), normalise(image_embeddings).t());
}

at::Tensor ClipImpl::loss(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) {
  return clip_loss(logits(text_embeddings, image_embeddings));
}

void ClipImpl::reset_parameters(at::Generator generator) {
  torch::NoGradGuard no_grad;
  image_model->reset_parameters(generator);
  text_model->reset_parameters(generator);
  for (auto& linear : {image_projection, text_projection}) {
    const double bound = 1.0 / std::sqrt(double(linear->weight.size(1)));  // nn.Linear's kaiming_uniform(a=sqrt 5)
    linear->weight.uniform_(-bound, bound, generator);
    linear->bias.uniform_(-bound, bound, generator);
  }
  if (logit_scale.defined()) logit_scale.fill_(config_.logit_scale_init);
}

at::Tensor clip_loss(const at::Tensor& logits) {
  COUTURE_CHECK(logits.dim() == 2 && logits.size(0) == logits.size(1), "clip loss: logits must be square, got ",
                logits.sizes());
  auto targets = at::arange(logits.size(0), logits.options().dtype(at::kLong));
  auto l = logits.to(at::kFloat);  // the softmax in fp32 whatever the towers ran in
  return (at::cross_entropy_loss(l, targets) + at::cross_entropy_loss(l.t(), targets)) / 2;
}

at::Tensor clip_loss(const at::Tensor& logits, const at::Tensor& negative_logits) {
  if (!negative_logits.defined() || negative_logits.size(0) == 0) return clip_loss(logits);
  COUTURE_CHECK(logits.dim() == 2 && logits.size(0) == logits.size(1) && negative_logits.dim() == 2 &&
                    negative_logits.size(1) == logits.size(1),
                "clip loss: logits [B, B] and negative logits [N, B] expected, got ", logits.sizes(), " and ",
                negative_logits.sizes());
  auto targets = at::arange(logits.size(0), logits.options().dtype(at::kLong));
  auto l = logits.to(at::kFloat);
  auto image_to_text = at::cat({l, negative_logits.to(at::kFloat)}, 0).t();  // [B, B + N]
  return (at::cross_entropy_loss(l, targets) + at::cross_entropy_loss(image_to_text, targets)) / 2;
}

TokenBatch tokenize_captions(const WordPieceTokenizer& tokenizer, const std::vector<std::string>& captions,
                             int64_t max_tokens) {
  COUTURE_CHECK(max_tokens >= 2, "clip: max_tokens must be at least 2, got ", max_tokens);
  const int64_t B = int64_t(captions.size());
  std::vector<int32_t> ids;
  std::vector<std::vector<int32_t>> rows(captions.size());
  int64_t longest = 2;
  for (size_t i = 0; i < captions.size(); ++i) {
    size_t n = tokenizer.encode_ids(captions[i], size_t(max_tokens), ids);
    rows[i].assign(ids.begin(), ids.begin() + long(n));
    longest = std::max(longest, int64_t(n));
  }
  auto out = at::full({B, longest}, int64_t(tokenizer.pad_id()), at::kLong);
  auto mask = at::zeros({B, longest}, at::kLong);
  auto o = out.accessor<int64_t, 2>();
  auto m = mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < B; ++i)
    for (size_t t = 0; t < rows[size_t(i)].size(); ++t) {
      o[i][int64_t(t)] = rows[size_t(i)][t];
      m[i][int64_t(t)] = 1;
    }
  return {out, mask};
}

at::Tensor resize_to_batch(const std::vector<Image>& images, int64_t size) {
  auto out = at::empty({int64_t(images.size()), 3, size, size}, at::kFloat);
  for (size_t i = 0; i < images.size(); ++i) {
    const Image& src = images[i];
    COUTURE_CHECK_INPUT(src.channels == 1 || src.channels == 3, "clip: image ", i, " has ", src.channels,
                        " channels (expected 1 or 3)");
    Image r = (src.width == size && src.height == size) ? src : resize_image(src, int(size), int(size));
    out[int64_t(i)].copy_(tensor_from_image(r));
  }
  return out;
}

at::Tensor augment_garments(const at::Tensor& images, at::Generator generator, const GarmentAugment& o) {
  COUTURE_CHECK(images.dim() == 4, "augment: images must be [B,C,H,W], got ", images.sizes());
  const int64_t B = images.size(0);
  auto u = at::rand({B, 7}, generator, at::TensorOptions().dtype(at::kDouble));
  auto a = u.accessor<double, 2>();
  auto theta = at::zeros({B, 2, 3}, at::kDouble);
  auto th = theta.accessor<double, 3>();
  for (int64_t i = 0; i < B; ++i) {
    const double area = o.min_area + (1.0 - o.min_area) * a[i][0];
    const double aspect = std::exp((2 * a[i][1] - 1) * std::log(o.max_aspect));
    const double w = std::min(1.0, std::sqrt(area * aspect)), h = std::min(1.0, std::sqrt(area / aspect));
    // Crop centre anywhere the crop fits, plus a small shift; in grid_sample's [-1,1] coordinates.
    const double cx = (2 * a[i][2] - 1) * (1 - w) + (2 * a[i][3] - 1) * 2 * o.max_translate;
    const double cy = (2 * a[i][4] - 1) * (1 - h) + (2 * a[i][5] - 1) * 2 * o.max_translate;
    const bool flip = a[i][6] < o.flip;
    th[i][0][0] = flip ? -w : w;
    th[i][0][2] = cx;
    th[i][1][1] = h;
    th[i][1][2] = cy;
  }
  auto grid = at::affine_grid_generator(theta.to(images.options()), images.sizes(), /*align_corners=*/false);
  return at::grid_sampler(images, grid, /*bilinear*/ 0, /*border*/ 1, /*align_corners=*/false);
}

std::map<std::string, std::string> clip_metadata(const ClipConfig& config) {
  return {{"format", "couture-clip"}, {kMetadataKey, config.to_json().dump()}};
}

ClipConfig clip_config_from(const SafetensorsFile& file) {
  auto it = file.metadata().find(kMetadataKey);
  COUTURE_CHECK_INPUT(it != file.metadata().end(), "'", file.source(), "' is not a Couture CLIP model (no '",
                      kMetadataKey, "' metadata)");
  auto j = nlohmann::ordered_json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  COUTURE_CHECK_INPUT(j.is_object(), "'", file.source(), "': metadata '", kMetadataKey, "' is not a JSON object");
  try {
    return ClipConfig::from_json(j);
  } catch (const InputError& e) {
    throw InputError("'" + file.source() + "': " + e.what());
  }
}

void save_clip(const std::filesystem::path& path, ClipImpl& model) {
  save_tensors(path, state_dict(model), clip_metadata(model.config()));
}

Clip load_clip(const SafetensorsFile& file) {
  Clip model(clip_config_from(file));
  load_state_dict(*model, file, "clip model");
  model->eval();
  return model;
}

Clip load_clip(const std::filesystem::path& path) { return load_clip(SafetensorsFile::open(path)); }

}  // namespace couture
