// The VQGAN training loss as taming-transformers' VQLPIPSWithDiscriminator (taming/modules/losses/vqperceptual.py):
// L1 + perceptual + hinge PatchGAN (NLayerDiscriminator, taming/modules/discriminator/model.py) with the adaptive
// weight from the decoder's last layer. Perceptual networks: LPIPS on VGG16 with taming's key names
// (taming/modules/losses/lpips.py) when the user has its weights, else Couture's own small "features" CNN trained
// on the dataset's labels (docs/vqgan.md).
//
// B batch, C channels, H x W image in [-1, 1].
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "models/attribute_logits.h"

namespace couture {

struct VQLossConfig {
  int64_t disc_start = 0;         // first step at which the GAN terms count (taming's discriminator_iter_start)
  double codebook_weight = 1.0;
  double perceptual_weight = 1.0;
  // A squared-error term beside L1 (a Couture extension; MaskGIT's and ViT-VQGAN's tokenizers train on L2): L1
  // pulls every pixel equally whatever its error, the square pulls hardest on the largest errors, a garment's wrong
  // hue among them (docs/vqgan.md).
  double l2_weight = 0.0;
  // An L1 term in CIELAB beside the one in RGB (a Couture extension): CIELAB's distances follow what an eye sees
  // (lightness apart from the two colour-opponent axes), so a hue or chroma shift, such as navy drawn as blue,
  // costs what it looks like (docs/vqgan.md).
  double colour_weight = 0.0;
  double disc_weight = 0.2;       // scales the adaptive weight
  double disc_factor = 1.0;       // the GAN terms' factor from disc_start on
  bool gan = true;                // false (VQ-VAE mode, with perceptual_weight 0): L1 + codebook only
  int64_t disc_num_layers = 3;
  int64_t disc_in_channels = 3;
  int64_t disc_ndf = 64;
};

// PatchGAN: Conv(4, s2) LeakyReLU(0.2), then n_layers-1 x [Conv(4, s2, no bias) BatchNorm LeakyReLU], then
// Conv(4, s1, no bias) BatchNorm LeakyReLU, Conv(4, s1) -> one logit per patch. Keys `main.N.*` as taming's.
class NLayerDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit NLayerDiscriminatorImpl(int64_t input_nc = 3, int64_t ndf = 64, int64_t n_layers = 3);
  at::Tensor forward(const at::Tensor& x);  // [B, 1, h', w']

  torch::nn::Sequential main{nullptr};
};
TORCH_MODULE(NLayerDiscriminator);

// taming's weights_init: conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02) and biases 0.
void init_discriminator_weights(NLayerDiscriminatorImpl& discriminator, at::Generator generator);

// mean(relu(1 - real)) / 2 + mean(relu(1 + fake)) / 2.
at::Tensor hinge_d_loss(const at::Tensor& logits_real, const at::Tensor& logits_fake);
// ||d nll / d last|| / (||d g / d last|| + 1e-4), clamped to [0, 1e4], detached, times disc_weight.
at::Tensor adaptive_weight(const at::Tensor& nll_loss, const at::Tensor& g_loss, const at::Tensor& last_layer,
                           double disc_weight);

// Per-sample perceptual distance [B, 1, 1, 1] between two image batches (differentiable in both).
using PerceptualDistance = std::function<at::Tensor(const at::Tensor&, const at::Tensor&)>;

struct GeneratorLoss {
  at::Tensor loss;  // nll + d_weight * disc_factor * g_loss + codebook_weight * codebook_loss
  double l1 = 0, perceptual = 0, nll = 0, g_loss = 0, d_weight = 0, disc_factor = 0, codebook = 0, colour = 0;
};
// The autoencoder's step. Before disc_start (or with gan off) the discriminator is not run, which gives the same
// loss as taming's (its GAN term is multiplied by 0 there) at a lower cost. The discriminator's parameters get
// gradients from g_loss: zero them before the discriminator's own step. An empty `perceptual` means none.
GeneratorLoss generator_loss(const VQLossConfig& config, const at::Tensor& codebook_loss, const at::Tensor& inputs,
                             const at::Tensor& reconstructions, int64_t step, const at::Tensor& last_layer,
                             NLayerDiscriminatorImpl& discriminator, const PerceptualDistance& perceptual);

// sRGB images in [-1, 1] ([B, 3, H, W]) -> CIELAB under D65, each channel divided by 100 (L in 0..1, a and b about
// -1..1). Differentiable everywhere, black included.
at::Tensor rgb_to_lab(const at::Tensor& rgb);

struct DiscriminatorLoss {
  at::Tensor loss;  // disc_factor * hinge_d_loss; an undefined tensor before disc_start (nothing to train)
  double logits_real = 0, logits_fake = 0;
};
DiscriminatorLoss discriminator_loss(const VQLossConfig& config, const at::Tensor& inputs,
                                     const at::Tensor& reconstructions, int64_t step,
                                     NLayerDiscriminatorImpl& discriminator);

// LPIPS (Zhang et al. 2018) as taming has it: VGG16 features (`net.slice1..5.N.*`, torchvision's layer indices),
// unit-normalised over channels, squared differences weighted by 1x1 convs (`lin0..4.model.1.weight`), averaged
// over space and summed. Dropout before the lins is left out (taming's LPIPS is meant to run in eval mode).
class LPIPSImpl : public torch::nn::Module {
 public:
  LPIPSImpl();
  at::Tensor forward(const at::Tensor& x, const at::Tensor& y);  // [B, 1, 1, 1]

 private:
  at::Tensor shift_, scale_;
  std::vector<torch::nn::Sequential> slices_;
  std::vector<torch::nn::Sequential> lins_;
};
TORCH_MODULE(LPIPS);

// Loads `net.*` and `lin*.*` by name with a key-set and shape check; `scaling_layer.shift/scale` may be present
// (they are constants). Freezes the parameters and sets eval mode.
void load_lpips(LPIPSImpl& lpips, const std::filesystem::path& path);

// Couture's own perceptual network: stages of two 3x3 convs (GroupNorm(8), SiLU), 2x2 average pooling between
// stages, and heads on the pooled last stage predicting the garment's category, colour and print.
struct FeatureNetConfig {
  int64_t in_channels = 3;
  std::vector<int64_t> widths{32, 64, 128, 256};  // one stage each; stage s sees H / 2^s
  int64_t num_categories = 0, num_colours = 0, num_prints = 0;  // head sizes (0: no head)
};

class FeatureNetImpl : public torch::nn::Module {
 public:
  explicit FeatureNetImpl(const FeatureNetConfig& config);
  std::vector<at::Tensor> features(const at::Tensor& x);  // one [B, C_s, H_s, W_s] per stage
  AttributeLogits forward(const at::Tensor& x);

  torch::nn::ModuleList stages{nullptr};
  torch::nn::Linear category_head{nullptr}, colour_head{nullptr}, print_head{nullptr};
  const FeatureNetConfig& config() const { return config_; }

 private:
  FeatureNetConfig config_;
};
TORCH_MODULE(FeatureNet);

// LPIPS-style distance without learned weights: per stage, channel-normalised features, squared difference summed
// over channels and averaged over space; the mean over stages. [B, 1, 1, 1].
at::Tensor feature_distance(FeatureNetImpl& net, const at::Tensor& x, const at::Tensor& y);

}  // namespace couture
