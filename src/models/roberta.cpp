#include "models/roberta.h"

#include <cmath>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"

namespace couture {

namespace {

torch::nn::LayerNorm layer_norm(const RobertaConfig& config) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden}).eps(config.layer_norm_eps));
}

// An empty module that only gives its children a name prefix (HF's RobertaAttention, RobertaOutput, ...).
std::shared_ptr<torch::nn::Module> scope(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>(name));
}

}  // namespace

at::Tensor roberta_position_ids(const at::Tensor& ids, int64_t pad_id) {
  auto not_pad = ids.ne(pad_id).to(at::kLong);
  return at::cumsum(not_pad, 1) * not_pad + pad_id;
}

RobertaEmbeddingsImpl::RobertaEmbeddingsImpl(const RobertaConfig& config) : pad_id_(config.pad_id) {
  using torch::nn::EmbeddingOptions;
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(EmbeddingOptions(config.vocab_size, config.hidden).padding_idx(config.pad_id)));
  position_embeddings = register_module(
      "position_embeddings",
      torch::nn::Embedding(EmbeddingOptions(config.max_position_embeddings, config.hidden).padding_idx(config.pad_id)));
  token_type_embeddings = register_module(
      "token_type_embeddings", torch::nn::Embedding(EmbeddingOptions(config.type_vocab_size, config.hidden)));
  LayerNorm = register_module("LayerNorm", layer_norm(config));
  dropout = register_module("dropout", torch::nn::Dropout(config.hidden_dropout));
}

at::Tensor RobertaEmbeddingsImpl::forward(const at::Tensor& ids) {
  // Token type 0 everywhere, as HF does when no token_type_ids are given (KoCLIP's tokenizer gives zeros too).
  auto x = word_embeddings->forward(ids) + position_embeddings->forward(roberta_position_ids(ids, pad_id_)) +
           token_type_embeddings->weight[0];
  return dropout->forward(LayerNorm->forward(x));
}

RobertaLayerImpl::RobertaLayerImpl(const RobertaConfig& config) : heads_(config.heads) {
  const int64_t h = config.hidden;
  auto attention = scope(*this, "attention");
  auto self = scope(*attention, "self");
  query = self->register_module("query", torch::nn::Linear(h, h));
  key = self->register_module("key", torch::nn::Linear(h, h));
  value = self->register_module("value", torch::nn::Linear(h, h));
  auto attention_output = scope(*attention, "output");
  attention_dense = attention_output->register_module("dense", torch::nn::Linear(h, h));
  attention_norm = attention_output->register_module("LayerNorm", layer_norm(config));
  intermediate_dense = scope(*this, "intermediate")->register_module("dense", torch::nn::Linear(h, config.intermediate));
  auto output = scope(*this, "output");
  output_dense = output->register_module("dense", torch::nn::Linear(config.intermediate, h));
  output_norm = output->register_module("LayerNorm", layer_norm(config));
  // Dropout has no parameters, so these names are free.
  hidden_dropout = register_module("hidden_dropout", torch::nn::Dropout(config.hidden_dropout));
  attention_dropout = register_module("attention_dropout", torch::nn::Dropout(config.attention_dropout));
}

at::Tensor RobertaLayerImpl::forward(const at::Tensor& x, const at::Tensor& key_padding) {
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), D = H / heads_;
  auto split = [&](const at::Tensor& t) { return t.view({B, T, heads_, D}).transpose(1, 2); };  // [B,heads,T,D]
  auto q = split(query->forward(x)), k = split(key->forward(x)), v = split(value->forward(x));
  auto scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(D));
  // A large finite fill (HF adds the dtype's minimum): a row of only padding stays finite instead of NaN.
  scores = scores.masked_fill(key_padding, -1e30);
  auto context = at::matmul(attention_dropout->forward(scores.softmax(-1)), v);
  context = context.transpose(1, 2).reshape({B, T, H});
  auto a = attention_norm->forward(hidden_dropout->forward(attention_dense->forward(context)) + x);
  auto f = output_dense->forward(at::gelu(intermediate_dense->forward(a)));
  return output_norm->forward(hidden_dropout->forward(f) + a);
}

RobertaModelImpl::RobertaModelImpl(const RobertaConfig& config) : config_(config) {
  COUTURE_CHECK_INPUT(config.hidden > 0 && config.heads > 0 && config.hidden % config.heads == 0,
                      "roberta config: hidden ", config.hidden, " is not a multiple of heads ", config.heads);
  COUTURE_CHECK_INPUT(config.pad_id >= 0 && config.pad_id < config.vocab_size && config.max_tokens() > 0,
                      "roberta config: pad_id ", config.pad_id, " does not fit vocab_size ", config.vocab_size,
                      " and max_position_embeddings ", config.max_position_embeddings);
  embeddings = register_module("embeddings", RobertaEmbeddings(config));
  layers = scope(*this, "encoder")->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.layers; ++i) layers->push_back(RobertaLayer(config));
  if (config.pooler)
    pooler_dense = scope(*this, "pooler")->register_module("dense", torch::nn::Linear(config.hidden, config.hidden));
}

at::Tensor RobertaModelImpl::forward(const at::Tensor& ids, const at::Tensor& mask) {
  COUTURE_CHECK_INPUT(ids.dim() == 2 && ids.scalar_type() == at::kLong, "roberta: token ids must be [B,T] int64, got ",
                      ids.sizes(), " ", ids.scalar_type());
  COUTURE_CHECK_INPUT(ids.size(1) <= config_.max_tokens(), "roberta: ", ids.size(1), " tokens exceed the ",
                      config_.max_tokens(), " positions of the model");
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    COUTURE_CHECK_INPUT(lo >= 0 && hi < config_.vocab_size, "roberta: token id ", lo < 0 ? lo : hi,
                        " is outside the vocabulary of ", config_.vocab_size);
  }
  at::Tensor keep = mask.defined() ? mask.to(ids.device()).ne(0) : ids.ne(config_.pad_id);
  COUTURE_CHECK_INPUT(keep.sizes() == ids.sizes(), "roberta: attention mask ", keep.sizes(),
                      " does not match token ids ", ids.sizes());
  auto key_padding = keep.logical_not().view({ids.size(0), 1, 1, ids.size(1)});
  auto x = embeddings->forward(ids);
  for (const auto& layer : *layers) x = layer->as<RobertaLayerImpl>()->forward(x, key_padding);
  return x;
}

at::Tensor RobertaModelImpl::cls(const at::Tensor& ids, const at::Tensor& mask) {
  return forward(ids, mask).select(1, 0);
}

at::Tensor RobertaModelImpl::pooled(const at::Tensor& hidden) {
  COUTURE_CHECK(!pooler_dense.is_empty(), "roberta: this model was built without a pooler");
  return at::tanh(pooler_dense->forward(hidden.select(1, 0)));
}

void RobertaModelImpl::reset_parameters(at::Generator generator) {
  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      linear->weight.normal_(0.0, 0.02, generator);
      linear->bias.zero_();
    } else if (auto* embedding = module->as<torch::nn::EmbeddingImpl>()) {
      embedding->weight.normal_(0.0, 0.02, generator);
      if (auto pad = embedding->options.padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* norm = module->as<torch::nn::LayerNormImpl>()) {
      norm->reset_parameters();
    }
  }
}

RobertaConfig roberta_config_from(const SafetensorsFile& file, RobertaConfig base) {
  auto shape = [&](const std::string& name, size_t dims) {
    const auto& t = file.at(name);
    COUTURE_CHECK_INPUT(t.shape.size() == dims, "'", file.source(), "': tensor '", name, "' has ", t.shape.size(),
                        " dimensions, expected ", dims);
    return t.shape;
  };
  RobertaConfig c = base;
  const auto words = shape("embeddings.word_embeddings.weight", 2);
  c.vocab_size = words[0];
  c.hidden = words[1];
  c.max_position_embeddings = shape("embeddings.position_embeddings.weight", 2)[0];
  c.type_vocab_size = shape("embeddings.token_type_embeddings.weight", 2)[0];
  c.intermediate = shape("encoder.layer.0.intermediate.dense.weight", 2)[0];
  c.layers = 0;
  while (file.find("encoder.layer." + std::to_string(c.layers) + ".attention.self.query.weight")) ++c.layers;
  if (c.hidden % 64 == 0) c.heads = c.hidden / 64;
  c.pooler = file.find("pooler.dense.weight") != nullptr;
  return c;
}

void load_roberta_weights(RobertaModelImpl& model, const SafetensorsFile& file) {
  const std::string where = "loading the text encoder from '" + file.source() + "'";
  auto expected = state_dict(model);
  std::set<std::string> names;
  for (const auto& [name, t] : expected) names.insert(name);
  // Everything is checked before anything is copied: a bad file leaves the model as it was.
  for (const auto& v : file.tensors())
    COUTURE_CHECK_INPUT(names.count(v.name), where, ": unexpected tensor '", v.name, "' (the model has ",
                        model.config().layers, " layers)");
  for (const auto& [name, t] : expected) {
    const TensorView* v = file.find(name);
    COUTURE_CHECK_INPUT(v || name.starts_with("pooler."), where, ": tensor '", name, "' is missing");
    COUTURE_CHECK_INPUT(!v || at::IntArrayRef(v->shape) == t.sizes(), where, ": tensor '", name, "' has shape ",
                        at::IntArrayRef(v->shape), ", expected ", t.sizes());
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : expected)
    if (const TensorView* v = file.find(name)) t.copy_(to_tensor(file, *v));
}

}  // namespace couture
