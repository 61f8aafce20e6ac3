// The judge of `couture eval generate`: a small residual CNN (ResNet basic blocks: two 3x3 convs with BatchNorm and
// ReLU and an identity or 1x1 shortcut, He et al. 2016) that tells a garment's category, colour and print from its
// image. It is kept apart on purpose from the reranker (KoCLIP's EfficientNet tower, trained contrastively on
// captions) and from the VQGAN's perceptual network (FeatureNet: plain GroupNorm/SiLU stages): another architecture
// and another objective, so that it does not share their blind spots when it grades generated designs.
//
// B batch, H x W image in [-1, 1].
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "models/attribute_logits.h"

namespace couture {

struct JudgeConfig {
  int64_t in_channels = 3;
  int64_t stem_stride = 2;                         // the first 3x3 conv's stride: 64 px images -> 32 x 32 maps
  std::vector<int64_t> widths{32, 64, 128, 256};  // one stage each; stage s > 0 halves the size (stride-2 block)
  int64_t blocks = 1;                              // basic blocks per stage
  double dropout = 0.2;                            // before the heads, in training
  int64_t num_categories = 0, num_colours = 0, num_prints = 0;

  int64_t feature_dim() const { return widths.back(); }
  nlohmann::json to_json() const;  // everything but the head sizes (they come from the classes)
  // Missing fields keep their defaults; wrong values are a couture::InputError naming the field.
  static JudgeConfig from_json(const nlohmann::json& j);
};

// conv3x3(stride) BN ReLU conv3x3 BN, plus the input (through conv1x1(stride) BN when the shape changes), ReLU.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut_conv{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, shortcut_bn{nullptr};
};
TORCH_MODULE(BasicBlock);

class JudgeNetImpl : public torch::nn::Module {
 public:
  explicit JudgeNetImpl(const JudgeConfig& config);
  at::Tensor features(const at::Tensor& x);  // [B, feature_dim]: the pooled last stage (the Fréchet features)
  AttributeLogits heads(const at::Tensor& features);
  AttributeLogits forward(const at::Tensor& x) { return heads(features(x)); }
  const JudgeConfig& config() const { return config_; }

  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Linear category_head{nullptr}, colour_head{nullptr}, print_head{nullptr};

 private:
  JudgeConfig config_;
};
TORCH_MODULE(JudgeNet);

}  // namespace couture
