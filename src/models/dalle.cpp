#include "models/dalle.h"

#include <filesystem>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"

namespace couture {

namespace {

// The reference's wrapper modules (LayerScale, PreNorm, Deterministic, ReversibleBlock, the sequences) only
// contribute names to the state dict keys; here they are named scopes and the forward pass uses direct handles.
class Scope : public torch::nn::Module {
 public:
  using Module::register_module;
  using Module::register_parameter;
};

std::shared_ptr<Scope> scope() { return std::make_shared<Scope>(); }

// dalle_pytorch's LayerScale init, by 1-based layer index (CaiT): deeper layers start smaller.
double layer_scale_init(int64_t layer) {
  if (layer <= 18) return 0.1;
  if (layer <= 24) return 1e-5;
  return 1e-6;
}

// Matmul and embedding weights are the 2-D parameters; everything else (norms, biases, scales) stays fp32.
void store_weights_as(torch::nn::Module& module, at::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 2 && p.scalar_type() != dtype) p.set_data(p.to(dtype));
}

}  // namespace

// ---- config ----

DalleConfig DalleConfig::preset(const std::string& name) {
  DalleConfig c;  // defaults are the released KoDALLE
  if (name == "kodalle") return c;
  if (name == "kodalle_v1_seq") {
    c.depth = 12;
    c.heads = 16;
    c.text_seq_len = 128;
    c.reversible = false;
    return c;
  }
  if (name == "fmnist") {
    // Couture-FMNIST on 2 CPU cores: 64 px images as 8x8 codes of a 512-entry VQGAN, captions of a few sentences
    // (category, colour, print) in at most 32 WordPiece tokens of a small trained vocab (train sets
    // num_text_tokens to the vocab's size; the full captions of Couture-FMNIST take at most 18 with the 233-token
    // vocab, [CLS] and [SEP] included, so 64 positions were mostly padding). 4 x 256 wide is about 4.5M
    // parameters: ~2.7 GFLOP per training sample (96 positions); no dropout in such a short run.
    c.num_text_tokens = 1024;
    c.text_seq_len = 32;
    c.text_pos_len = 33;
    c.dim = 256;
    c.depth = 4;
    c.heads = 4;
    c.dim_head = 64;
    c.image_fmap_size = 8;
    c.num_image_tokens = 512;
    c.reversible = false;
    c.attn_dropout = c.ff_dropout = 0.0;
    return c;
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("unknown dalle preset '" + name + "' (known: " + known + ")");
}

std::vector<std::string> DalleConfig::preset_names() { return {"kodalle", "kodalle_v1_seq", "fmnist"}; }

DalleConfig DalleConfig::from_json(const nlohmann::json& json, const std::string& where) {
  COUTURE_CHECK_INPUT(json.is_object(), where, ": the dalle config must be a JSON object");
  DalleConfig c;
  const std::pair<const char*, int64_t*> ints[] = {
      {"num_text_tokens", &c.num_text_tokens}, {"text_seq_len", &c.text_seq_len},
      {"text_pos_len", &c.text_pos_len},       {"dim", &c.dim},
      {"depth", &c.depth},                     {"heads", &c.heads},
      {"dim_head", &c.dim_head},               {"ff_mult", &c.ff_mult},
      {"image_fmap_size", &c.image_fmap_size}, {"num_image_tokens", &c.num_image_tokens},
      {"text_pad_id", &c.text_pad_id}};
  const std::pair<const char*, double*> reals[] = {{"loss_img_weight", &c.loss_img_weight},
                                                   {"attn_dropout", &c.attn_dropout},
                                                   {"ff_dropout", &c.ff_dropout},
                                                   {"null_caption_prob", &c.null_caption_prob}};
  const std::pair<const char*, bool*> flags[] = {{"reversible", &c.reversible}, {"mask_padding", &c.mask_padding}};
  // Reference options that change the computation; accepted only when off.
  const char* unsupported[] = {"stable", "sandwich_norm", "shift_tokens", "rotary_emb", "sparse_attn"};
  for (const auto& [key, value] : json.items()) {
    try {
      bool known = false;
      for (auto& [name, field] : ints)
        if (key == name) *field = value.get<int64_t>(), known = true;
      for (auto& [name, field] : reals)
        if (key == name) *field = value.get<double>(), known = true;
      for (auto& [name, field] : flags)
        if (key == name) *field = value.get<bool>(), known = true;
      for (const char* name : unsupported)
        if (key == name) {
          COUTURE_CHECK_INPUT(value.is_null() || value == false, where, ": field '", key, "' = ", value.dump(),
                              " is not supported (only the plain KoDALLE transformer is)");
          known = true;
        }
      if (key == "attn_types") {
        bool full = value.is_null() || value == "full";
        if (value.is_array()) {
          full = true;
          for (const auto& t : value) full = full && t == "full";
        }
        COUTURE_CHECK_INPUT(full, where, ": attn_types ", value.dump(), " is not supported (only \"full\")");
        known = true;
      }
      if (!known) log::warn(where + ": ignoring unknown dalle config field '" + key + "'");
    } catch (const nlohmann::json::exception&) {
      throw InputError(where + ": field '" + key + "' has the wrong type: " + value.dump());
    }
  }
  c.validate(where);
  return c;
}

nlohmann::json DalleConfig::to_json() const {
  return {{"num_text_tokens", num_text_tokens}, {"text_seq_len", text_seq_len},
          {"text_pos_len", text_pos_len},       {"depth", depth},
          {"heads", heads},                     {"dim_head", dim_head},
          {"dim", dim},                         {"ff_mult", ff_mult},
          {"image_fmap_size", image_fmap_size}, {"num_image_tokens", num_image_tokens},
          {"reversible", reversible},           {"loss_img_weight", loss_img_weight},
          {"attn_dropout", attn_dropout},       {"ff_dropout", ff_dropout},
          {"mask_padding", mask_padding},       {"text_pad_id", text_pad_id},
          {"null_caption_prob", null_caption_prob}};
}

void DalleConfig::validate(const std::string& where) const {
  const std::pair<const char*, int64_t> positive[] = {
      {"num_text_tokens", num_text_tokens}, {"text_seq_len", text_seq_len}, {"dim", dim},
      {"depth", depth},                     {"heads", heads},               {"dim_head", dim_head},
      {"ff_mult", ff_mult},                 {"image_fmap_size", image_fmap_size},
      {"num_image_tokens", num_image_tokens}};
  for (const auto& [name, value] : positive)
    COUTURE_CHECK_INPUT(value > 0, where, ": field '", name, "' must be positive, got ", value);
  COUTURE_CHECK_INPUT(text_pos_len > text_seq_len, where, ": text_pos_len ", text_pos_len,
                      " must exceed text_seq_len ", text_seq_len, " (BOS + text positions)");
  COUTURE_CHECK_INPUT(attn_dropout >= 0 && attn_dropout < 1 && ff_dropout >= 0 && ff_dropout < 1, where,
                      ": dropout must be in [0, 1)");
  COUTURE_CHECK_INPUT(null_caption_prob >= 0 && null_caption_prob <= 1, where,
                      ": null_caption_prob must be in [0, 1], got ", null_caption_prob);
  COUTURE_CHECK_INPUT(loss_img_weight >= 0, where, ": loss_img_weight must not be negative");
  if (mask_padding || null_caption_prob > 0)
    COUTURE_CHECK_INPUT(text_pad_id >= 0 && text_pad_id < num_text_tokens, where,
                        ": mask_padding and null_caption_prob need text_pad_id (the vocab's [PAD] id), got ",
                        text_pad_id);
}

DalleConfig dalle_config_for(const SafetensorsFile& weights, const std::filesystem::path& config_path) {
  namespace fs = std::filesystem;
  std::string text, where;
  if (!config_path.empty()) {
    text = read_file(config_path), where = config_path.string();
  } else if (auto it = weights.metadata().find("config"); it != weights.metadata().end()) {
    text = it->second, where = weights.source() + " (metadata 'config')";
  } else {
    fs::path beside = fs::path(weights.source()).replace_extension("");
    beside += "_config.json";
    COUTURE_CHECK_INPUT(fs::exists(beside), "'", weights.source(), "' carries no config and '", beside.string(),
                        "' does not exist: pass the config file");
    text = read_file(beside), where = beside.string();
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": not valid JSON (" + e.what() + ")");
  }
  DalleConfig c = DalleConfig::from_json(json, where);
  // Sizes KoDALLE's configs leave out (they come from the language model and the VQGAN) are read off the tensors.
  auto shape = [&](const char* name, size_t axis) -> std::optional<int64_t> {
    const TensorView* t = weights.find(name);
    if (!t || t->shape.size() <= axis) return std::nullopt;
    return t->shape[axis];
  };
  auto fill = [&](const char* key, int64_t& field, std::optional<int64_t> value) {
    if (!json.contains(key) && value) field = *value;
  };
  fill("text_pos_len", c.text_pos_len, shape("text_pos_emb.weight", 0));
  fill("dim", c.dim, shape("text_emb.weight", 1));
  fill("num_image_tokens", c.num_image_tokens, shape("image_emb.weight", 0));
  fill("image_fmap_size", c.image_fmap_size, shape("image_pos_emb.weights_0", 1));
  c.validate(where);
  return c;
}

// ---- model ----

DalleCache DalleCache::gather_rows(const std::vector<int64_t>& rows, int64_t capacity) const {
  DalleCache out;
  for (const auto& layer : layers) out.layers.push_back(layer.gather_rows(rows, capacity));
  return out;
}

DalleImpl::DalleImpl(const DalleConfig& config, at::ScalarType weight_dtype) : config_(config) {
  config_.validate("dalle config");
  const DalleConfig& c = config_;
  const int64_t C = c.dim, F = c.image_fmap_size;
  auto shrink = [&](auto module) {
    store_weights_as(*module, weight_dtype);
    return module;
  };
  text_emb = register_module("text_emb", shrink(torch::nn::Embedding(c.num_text_tokens, C)));
  image_emb = register_module("image_emb", shrink(torch::nn::Embedding(c.num_image_tokens, C)));
  text_pos_emb = register_module("text_pos_emb", shrink(torch::nn::Embedding(c.text_pos_len, C)));
  auto axial = scope();  // AxialPositionalEmbedding, summed (not concatenated) row and column tables
  pos_rows_ = axial->register_parameter("weights_0", torch::randn({1, F, 1, C}));
  pos_cols_ = axial->register_parameter("weights_1", torch::randn({1, 1, F, C}));
  image_pos_emb = register_module("image_pos_emb", axial);

  // transformer.layers.{blocks.N.{f,g}.net | layers.N.{0,1}}.{scale, fn.norm, fn.fn.<attention | net>}
  auto sequence = scope(), list = scope(), root = scope();
  for (int64_t i = 0; i < c.depth; ++i) {
    Block b;
    auto branch = [&](Branch& out, std::shared_ptr<torch::nn::Module> fn) {
      auto layer_scale = scope(), pre_norm = scope();
      out.scale = layer_scale->register_parameter("scale", torch::full({1, 1, C}, layer_scale_init(i + 1)));
      out.norm = pre_norm->register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({C})));
      pre_norm->register_module("fn", fn);
      layer_scale->register_module("fn", pre_norm);
      return layer_scale;
    };
    b.attn = shrink(CausalSelfAttention(C, c.heads, c.dim_head, c.attn_dropout));
    auto attn = branch(b.attn_branch, b.attn.ptr());
    auto ff_module = scope(), net = scope();
    b.ff_in = net->register_module("0", shrink(torch::nn::Linear(C, C * c.ff_mult * 2)));
    b.ff_dropout = net->register_module("2", torch::nn::Dropout(c.ff_dropout));
    b.ff_out = net->register_module("3", shrink(torch::nn::Linear(C * c.ff_mult, C)));
    ff_module->register_module("net", net);
    auto ff = branch(b.ff_branch, ff_module);
    auto node = scope();
    if (c.reversible) {
      auto f = scope(), g = scope();  // Deterministic(net)
      f->register_module("net", attn);
      g->register_module("net", ff);
      node->register_module("f", f);
      node->register_module("g", g);
    } else {
      node->register_module("0", attn);
      node->register_module("1", ff);
    }
    list->register_module(std::to_string(i), node);
    blocks_.push_back(std::move(b));
  }
  sequence->register_module(c.reversible ? "blocks" : "layers", list);
  root->register_module("layers", sequence);
  transformer = register_module("transformer", root);

  final_norm_ = torch::nn::LayerNorm(torch::nn::LayerNormOptions({C}));
  logits_proj_ = shrink(torch::nn::Linear(C, c.total_logits()));
  to_logits = register_module("to_logits", torch::nn::Sequential(final_norm_, logits_proj_));
}

void DalleImpl::set_weight_dtype(at::ScalarType dtype) {
  COUTURE_CHECK(!inference_only_, "dalle: weights packed for inference only cannot change dtype");
  store_weights_as(*this, dtype);
  packed_.reset();
}

int64_t DalleImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

at::Tensor DalleImpl::embed_text(const at::Tensor& text) {
  const int64_t T = config_.text_seq_len;
  COUTURE_CHECK(text.dim() == 2 && text.size(1) == T, "dalle: text must be [B, ", T, "], got ", text.sizes());
  COUTURE_CHECK(text.numel() == 0 || (text.min().item<int64_t>() >= 0 &&
                                      text.max().item<int64_t>() < config_.num_text_tokens),
                "dalle: text ids must be in [0, ", config_.num_text_tokens, ")");
  auto tokens = at::constant_pad_nd(text, {1, 0}, 0);  // BOS id 0; pads stay as they are (as KoDALLE)
  auto positions = at::arange(T + 1, at::kLong);
  return at::embedding(text_emb->weight, tokens).to(at::kFloat) +
         at::embedding(text_pos_emb->weight, positions).to(at::kFloat);
}

at::Tensor DalleImpl::embed_image(const at::Tensor& codes, int64_t first) {
  const int64_t F = config_.image_fmap_size, C = config_.dim, n = codes.size(1);
  COUTURE_CHECK(codes.dim() == 2 && first >= 0 && first + n <= config_.image_seq_len(), "dalle: codes ",
                codes.sizes(), " at position ", first, " exceed the ", config_.image_seq_len(), " image positions");
  COUTURE_CHECK(codes.numel() == 0 || (codes.min().item<int64_t>() >= 0 &&
                                       codes.max().item<int64_t>() < config_.num_image_tokens),
                "dalle: image codes must be in [0, ", config_.num_image_tokens, ")");
  auto positions = at::arange(first, first + n, at::kLong);
  auto rows = pos_rows_.view({F, C}).index_select(0, positions.div(F, "floor"));
  auto cols = pos_cols_.view({F, C}).index_select(0, positions.remainder(F));
  return at::embedding(image_emb->weight, codes).to(at::kFloat) + (rows + cols).to(at::kFloat);
}

at::Tensor DalleImpl::key_keep(const at::Tensor& text) {
  if (!config_.mask_padding) return {};
  const int64_t B = text.size(0);
  auto ones = [&](int64_t n) { return at::ones({B, n}, at::kBool); };
  return at::cat({ones(1), text.ne(config_.text_pad_id), ones(config_.image_seq_len())}, 1);
}

at::Tensor DalleImpl::feed_forward(Block& b, const at::Tensor& x) {
  auto h = dense(x, b.ff_in->weight, b.ff_in->bias);
  auto halves = h.chunk(2, -1);  // GEGLU: value, gate (gelu is several times faster on a contiguous gate)
  auto y = b.ff_dropout->forward(halves[0] * at::gelu(halves[1].contiguous()));
  return dense(y, b.ff_out->weight, b.ff_out->bias);
}

at::Tensor DalleImpl::transform(const at::Tensor& x, const at::Tensor& keep, DalleCache* cache) {
  COUTURE_CHECK(!cache || cache->layers.size() == blocks_.size(), "dalle: the cache has ",
                cache ? cache->layers.size() : 0, " layers, the model ", blocks_.size());
  if (packed_ && cache && x.size(1) == 1 && !at::GradMode::is_enabled()) return transform_packed(x, keep, *cache);
  auto attention = [&](size_t i, const at::Tensor& in) {
    Block& b = blocks_[i];
    return b.attn->forward(b.attn_branch.norm(in), keep, cache ? &cache->layers[i] : nullptr) * b.attn_branch.scale;
  };
  auto feed = [&](size_t i, const at::Tensor& in) {
    Block& b = blocks_[i];
    auto x = b.ff_branch.norm(in);
    return (inference_only_ ? feed_forward_packed(i, x) : feed_forward(b, x)) * b.ff_branch.scale;
  };
  if (!config_.reversible) {
    auto h = x;
    for (size_t i = 0; i < blocks_.size(); ++i) {
      h = h + attention(i, h);
      h = h + feed(i, h);
    }
    return h;
  }
  // Reversible: two copies of the input, x1 += f(x2), x2 += g(x1), averaged at the end. At inference this is
  // just the two-stream forward; in training plain autograd gives the same gradients (at the memory cost the
  // reference's recomputation avoids).
  auto x1 = x, x2 = x;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    x1 = x1 + attention(i, x2);
    x2 = x2 + feed(i, x1);
  }
  return (x1 + x2) * 0.5;
}

at::Tensor DalleImpl::full_logits(const at::Tensor& h) {
  auto logits = dense(final_norm_(h), logits_proj_->weight, logits_proj_->bias);  // [B, L, V]
  // Positions < T predict text only, the rest image only (the reference's logits_mask).
  const int64_t T = config_.text_seq_len, L = logits.size(1), split = config_.text_logits();
  const float masked = -std::numeric_limits<float>::max();
  logits.narrow(1, 0, std::min(T, L)).narrow(2, split, config_.num_image_tokens).fill_(masked);
  if (L > T) logits.narrow(1, T, L - T).narrow(2, 0, split).fill_(masked);
  return logits;
}

at::Tensor DalleImpl::image_logits(const at::Tensor& h) {
  if (packed_ && !at::GradMode::is_enabled()) return image_logits_packed(h);
  const int64_t first = config_.text_logits(), n = config_.num_image_tokens;
  return dense(final_norm_(h), logits_proj_->weight.narrow(0, first, n), logits_proj_->bias.narrow(0, first, n));
}

at::Tensor DalleImpl::forward(const at::Tensor& text, const at::Tensor& codes) {
  COUTURE_CHECK(!inference_only_, "dalle: weights packed for inference only; forward() needs the plain ones");
  auto x = embed_text(text);
  if (codes.defined() && codes.numel() > 0) x = at::cat({x, embed_image(codes, 0)}, 1);
  if (x.size(1) > config_.total_seq_len()) x = x.narrow(1, 0, config_.total_seq_len());  // last is not needed
  return full_logits(transform(x, key_keep(text)));
}

DalleLoss DalleImpl::loss(const at::Tensor& text, const at::Tensor& codes, const at::Generator& generator) {
  COUTURE_CHECK(!inference_only_, "dalle: weights packed for inference only; loss() needs the plain ones");
  const DalleConfig& c = config_;
  const int64_t B = text.size(0), T = c.text_seq_len, N = c.image_seq_len();
  COUTURE_CHECK(codes.dim() == 2 && codes.size(0) == B && codes.size(1) == N, "dalle loss: codes must be [", B,
                ", ", N, "], got ", codes.sizes());
  auto caption = text;
  if (is_training() && c.null_caption_prob > 0) {
    auto gen = generator.defined() ? c10::optional<at::Generator>(generator) : c10::nullopt;
    auto drop = at::rand({B, 1}, gen) < c.null_caption_prob;
    caption = at::where(drop, at::full_like(text, c.text_pad_id), text);
  }
  auto x = at::cat({embed_text(caption), embed_image(codes, 0)}, 1).narrow(1, 0, T + N);
  auto h = final_norm_(transform(x, key_keep(caption)));
  const auto& W = logits_proj_->weight;
  const auto& b = logits_proj_->bias;
  const int64_t split = c.text_logits();
  auto text_logits = dense(h.narrow(1, 0, T), W.narrow(0, 0, split), b.narrow(0, 0, split));
  auto image_logits = dense(h.narrow(1, T, N), W.narrow(0, split, c.num_image_tokens),
                             b.narrow(0, split, c.num_image_tokens));
  DalleLoss out;
  out.text_loss = at::cross_entropy_loss(text_logits.reshape({-1, split}).to(at::kFloat), caption.reshape({-1}));
  out.image_loss =
      at::cross_entropy_loss(image_logits.reshape({-1, c.num_image_tokens}).to(at::kFloat), codes.reshape({-1}));
  out.loss = (out.text_loss + c.loss_img_weight * out.image_loss) / (c.loss_img_weight + 1);
  return out;
}

DalleCache DalleImpl::new_cache(int64_t batch, int64_t capacity) const {
  DalleCache cache;
  const auto dtype = blocks_.empty() ? at::kFloat : blocks_[0].attn->to_qkv->weight.scalar_type();
  for (size_t i = 0; i < blocks_.size(); ++i)
    cache.layers.push_back(KVCache::allocate(batch, config_.heads, capacity, config_.dim_head, dtype));
  return cache;
}

at::Tensor DalleImpl::null_caption(int64_t batch) const {
  COUTURE_CHECK(config_.text_pad_id >= 0, "dalle: a null caption needs text_pad_id in the config");
  return at::full({batch, config_.text_seq_len}, config_.text_pad_id, at::kLong);
}

void init_text_embeddings(DalleImpl& model, const SafetensorsFile& init) {
  torch::NoGradGuard no_grad;
  for (auto* table : {&model.text_emb, &model.text_pos_emb}) {
    const std::string name = table == &model.text_emb ? "text_emb.weight" : "text_pos_emb.weight";
    auto& weight = (*table)->weight;
    auto source = load_tensor(init, name);
    const bool fits = source.dim() == 2 && source.size(1) == weight.size(1) &&
                      (table == &model.text_pos_emb ? source.size(0) >= weight.size(0) : source.size(0) == weight.size(0));
    COUTURE_CHECK_INPUT(fits, "'", init.source(), "': tensor '", name, "' has shape ", source.sizes(),
                        ", the dalle config needs ", weight.sizes());
    weight.copy_(source.narrow(0, 0, weight.size(0)));
  }
}

Dalle load_dalle(const std::filesystem::path& weights_path, const std::filesystem::path& config_path,
                 at::ScalarType weight_dtype) {
  auto file = SafetensorsFile::open(weights_path);
  Dalle model(dalle_config_for(file, config_path), weight_dtype);
  load_state_dict(*model, file, "dalle");
  model->eval();
  return model;
}

}  // namespace couture
