// RoBERTa encoder laid out as Hugging Face's `RobertaModel` (transformers/models/roberta/modeling_roberta.py):
// parameter names equal its state-dict keys (embeddings.*, encoder.layer.N.*, pooler.dense.* when enabled), so a
// converted klue/roberta-base checkpoint loads by name. Post-LayerNorm blocks, exact (erf) GELU, absolute learned
// positions that start at pad_id + 1 and skip padding, one token type.
//
// B batch, T tokens, H hidden size.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

namespace couture {

class SafetensorsFile;

struct RobertaConfig {
  int64_t vocab_size = 32000;              // klue/roberta-base
  int64_t hidden = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t intermediate = 3072;
  int64_t max_position_embeddings = 514;   // = longest sequence + pad_id + 1
  int64_t type_vocab_size = 1;
  int64_t pad_id = 1;                      // klue: [PAD] = 1; read it from the vocabulary, not from here
  double layer_norm_eps = 1e-5;
  double hidden_dropout = 0.1;
  double attention_dropout = 0.1;
  bool pooler = false;                     // HF's pooler (dense + tanh on [CLS]); KoCLIP's checkpoints carry it

  static RobertaConfig base() { return {}; }
  int64_t max_tokens() const { return max_position_embeddings - pad_id - 1; }
};

// RoBERTa's position ids: pad_id + (running count of non-pad tokens) at tokens, pad_id at pads.
at::Tensor roberta_position_ids(const at::Tensor& ids, int64_t pad_id);

class RobertaEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit RobertaEmbeddingsImpl(const RobertaConfig& config);
  at::Tensor forward(const at::Tensor& ids);  // [B,T] int64 -> [B,T,H]

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  int64_t pad_id_;
};
TORCH_MODULE(RobertaEmbeddings);

// One encoder.layer.N. The HF nesting (attention.self.query, attention.output.dense, intermediate.dense,
// output.dense, ...) is kept with plain container modules; the members below point into it.
class RobertaLayerImpl : public torch::nn::Module {
 public:
  explicit RobertaLayerImpl(const RobertaConfig& config);
  // x [B,T,H]; key_padding [B,1,1,T] bool, true where the key is padding.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_padding);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, attention_dense{nullptr};
  torch::nn::Linear intermediate_dense{nullptr}, output_dense{nullptr};
  torch::nn::LayerNorm attention_norm{nullptr}, output_norm{nullptr};
  torch::nn::Dropout hidden_dropout{nullptr}, attention_dropout{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(RobertaLayer);

class RobertaModelImpl : public torch::nn::Module {
 public:
  explicit RobertaModelImpl(const RobertaConfig& config = {});

  // ids [B,T] int64; mask [B,T] (1 = token, 0 = padding) or undefined to derive it from pad_id. -> [B,T,H]
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& mask = {});
  // The first ([CLS]) position of the last hidden state, as KoCLIP's TextEncoder: [B,H].
  at::Tensor cls(const at::Tensor& ids, const at::Tensor& mask = {});
  // tanh(pooler.dense([CLS])); only with config.pooler.
  at::Tensor pooled(const at::Tensor& hidden);

  // HF's _init_weights: Linear and Embedding ~ N(0, 0.02) (padding rows zero), biases 0, LayerNorm 1/0.
  void reset_parameters(at::Generator generator);
  const RobertaConfig& config() const { return config_; }

  RobertaEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};  // registered as encoder.layer
  torch::nn::Linear pooler_dense{nullptr};

 private:
  RobertaConfig config_;
};
TORCH_MODULE(RobertaModel);

// A text encoder file (HF names without the "roberta." prefix, as `couture text import --encoder` writes): the sizes
// read from its tensors (vocab, hidden, layers, intermediate, positions, token types); heads = hidden / 64 as in
// every RoBERTa; pad id and the rest from `base`.
RobertaConfig roberta_config_from(const SafetensorsFile& file, RobertaConfig base = {});
// Copies embeddings.* and encoder.layer.* by name with a key-set and shape check naming the tensor; the pooler, if
// the model has one, is kept as it is when the file has none.
void load_roberta_weights(RobertaModelImpl& model, const SafetensorsFile& file);

}  // namespace couture
