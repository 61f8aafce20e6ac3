// EfficientNet (Tan & Le, 2019) laid out as timm's `efficientnet_b0` (timm/models/efficientnet.py and
// _efficientnet_blocks.py) with num_classes=0 and average pooling, as KoCLIP's image tower creates it. Parameter
// and buffer names equal timm's state-dict keys (conv_stem, bn1, blocks.S.B.*, conv_head, bn2), so converted
// checkpoints load by name. Padding is timm's symmetric k//2 (not TF "same"); BatchNorm is PyTorch's default.
//
// B batch, C channels, H x W spatial size.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <c10/util/Optional.h>
#include <vector>

namespace couture {

struct EfficientNetConfig {
  double width_multiplier = 1.0;  // timm's channel_multiplier: channels scaled, rounded to multiples of 8
  double depth_multiplier = 1.0;  // repeats per stage scaled with ceil
  int64_t in_channels = 3;
  double drop_path_rate = 0.2;    // stochastic depth, linearly increasing over blocks (the paper's 0.8 survival)
  double bn_eps = 1e-5;           // PyTorch defaults, as timm's efficientnet_b0 (not the tf_ ports' 1e-3 / 0.01)
  double bn_momentum = 0.1;

  static EfficientNetConfig b0() { return {}; }
};

// One block as the builder decodes it (after width and depth scaling).
struct MBConvSpec {
  int64_t in_channels = 0, out_channels = 0, mid_channels = 0, se_channels = 0;
  int64_t kernel = 3, stride = 1;
  bool expand = false;  // false: timm's DepthwiseSeparableConv (stage 0); true: InvertedResidual
  double drop_path = 0.0;
};

struct EfficientNetLayout {
  int64_t stem_channels = 0, head_channels = 0;     // head_channels = the pooled feature size (1280 for B0)
  std::vector<std::vector<MBConvSpec>> stages;      // blocks[S][B]
};
EfficientNetLayout efficientnet_layout(const EfficientNetConfig& config);

// x * keep_mask / keep_prob with one Bernoulli draw per sample (timm's drop_path); identity when not training.
at::Tensor drop_path(const at::Tensor& x, double p, bool training, c10::optional<at::Generator> generator);

class SqueezeExciteImpl : public torch::nn::Module {
 public:
  SqueezeExciteImpl(int64_t channels, int64_t reduced);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv_reduce{nullptr}, conv_expand{nullptr};
};
TORCH_MODULE(SqueezeExcite);

// Both block kinds in one class: the registered names follow timm (DepthwiseSeparableConv: conv_dw bn1 se conv_pw
// bn2; InvertedResidual: conv_pw bn1 conv_dw bn2 se conv_pwl bn3), the members name the role.
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(const MBConvSpec& spec, const EfficientNetConfig& config);
  at::Tensor forward(const at::Tensor& x, c10::optional<at::Generator> generator = c10::nullopt);

  MBConvSpec spec;
  torch::nn::Conv2d expand_conv{nullptr}, dw_conv{nullptr}, project_conv{nullptr};
  torch::nn::BatchNorm2d expand_bn{nullptr}, dw_bn{nullptr}, project_bn{nullptr};
  SqueezeExcite se{nullptr};
};
TORCH_MODULE(MBConv);

class EfficientNetImpl : public torch::nn::Module {
 public:
  explicit EfficientNetImpl(const EfficientNetConfig& config = {});

  at::Tensor forward_features(const at::Tensor& images);  // [B,C,H,W] -> [B,head,H/32,W/32]
  at::Tensor forward(const at::Tensor& images);           // [B,C,H,W] -> [B,head] (average-pooled)
  int64_t num_features() const { return layout_.head_channels; }
  const EfficientNetLayout& layout() const { return layout_; }

  // timm's _init_weight_goog: conv ~ N(0, sqrt(2 / fan_out)) with the group-corrected fan-out, BN 1/0, SE bias 0.
  void reset_parameters(at::Generator generator);
  // Drop-path draws come from this generator (the global default one when unset).
  void set_generator(c10::optional<at::Generator> generator) { generator_ = std::move(generator); }

  torch::nn::Conv2d conv_stem{nullptr}, conv_head{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::ModuleList blocks{nullptr};  // ModuleList of ModuleList of MBConv

 private:
  EfficientNetConfig config_;
  EfficientNetLayout layout_;
  c10::optional<at::Generator> generator_;
};
TORCH_MODULE(EfficientNet);

}  // namespace couture
