// The VQGAN loss pieces: taming's discriminator layout and initialisation, the hinge loss, the adaptive weight,
// the generator loss before and after disc_start, the CIELAB colour term, LPIPS's key names and loading, Couture's
// features net.
#include <gtest/gtest.h>

#include "core/error.h"
#include "models/vqgan_loss.h"
#include "nn/tensor_io.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

std::map<std::string, std::vector<int64_t>> shapes(const torch::nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, t] : state_dict(m)) out[name] = t.sizes().vec();
  return out;
}

TEST(NLayerDiscriminator, HasTamingsKeysAndGivesPatchLogits) {
  NLayerDiscriminator d;
  auto s = shapes(*d);
  EXPECT_EQ(s["main.0.weight"], (std::vector<int64_t>{64, 3, 4, 4}));
  EXPECT_EQ(s["main.0.bias"], (std::vector<int64_t>{64}));
  EXPECT_EQ(s["main.2.weight"], (std::vector<int64_t>{128, 64, 4, 4}));
  EXPECT_EQ(s.count("main.2.bias"), 0u);  // no bias before BatchNorm
  EXPECT_EQ(s["main.3.running_var"], (std::vector<int64_t>{128}));
  EXPECT_EQ(s["main.8.weight"], (std::vector<int64_t>{512, 256, 4, 4}));
  EXPECT_EQ(s["main.9.num_batches_tracked"], (std::vector<int64_t>{}));
  EXPECT_EQ(s["main.11.weight"], (std::vector<int64_t>{1, 512, 4, 4}));
  EXPECT_EQ(s["main.11.bias"], (std::vector<int64_t>{1}));
  EXPECT_EQ(d(torch::zeros({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, 1, 6, 6}));
}

TEST(NLayerDiscriminator, InitialisesAsTaming) {
  NLayerDiscriminator d;
  at::Generator gen = at::detail::createCPUGenerator(5);
  init_discriminator_weights(*d, gen);
  auto p = d->named_parameters();
  EXPECT_NEAR(p["main.5.weight"].std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(p["main.6.weight"].mean().item<double>(), 1.0, 0.01);
  EXPECT_EQ(p["main.6.bias"].abs().max().item<double>(), 0.0);
}

TEST(VQGanLoss, HingeLoss) {
  auto real = torch::tensor({2.0, 0.5}), fake = torch::tensor({-2.0, 0.0});
  // real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5; half the sum.
  EXPECT_NEAR(hinge_d_loss(real, fake).item<double>(), 0.375, 1e-7);
}

TEST(VQGanLoss, AdaptiveWeightIsTheGradientNormRatio) {
  auto last = torch::ones({3}, torch::requires_grad());
  auto nll = (last * torch::tensor({3.0, 0.0, 4.0})).sum();  // grad norm 5
  auto g = (last * 2.0).sum();                               // grad norm 2*sqrt(3)
  auto w = adaptive_weight(nll, g, last, 0.5).item<double>();
  EXPECT_NEAR(w, 0.5 * 5.0 / (2.0 * std::sqrt(3.0) + 1e-4), 1e-6);
}

TEST(VQGanLoss, GeneratorLossBeforeAndAfterDiscStart) {
  torch::manual_seed(0);
  VQLossConfig c;
  c.disc_start = 10;
  c.perceptual_weight = 0.5;
  NLayerDiscriminator d(3, 8, 2);
  auto last = torch::randn({3, 3}, torch::requires_grad());
  auto x = torch::rand({2, 3, 32, 32}) * 2 - 1;
  auto recon = torch::tanh(torch::randn({2, 3, 32, 32}) + last.sum());  // depends on `last`
  auto codebook_loss = torch::tensor(0.3);
  PerceptualDistance constant = [](const at::Tensor& a, const at::Tensor&) {
    return torch::full({a.size(0), 1, 1, 1}, 0.2);
  };
  auto before = generator_loss(c, codebook_loss, x, recon, 9, last, *d, constant);
  const double l1 = (x - recon).abs().mean().item<double>();
  EXPECT_NEAR(before.loss.item<double>(), l1 + 0.5 * 0.2 + 0.3, 1e-5);
  EXPECT_EQ(before.disc_factor, 0.0);
  auto after = generator_loss(c, codebook_loss, x, recon, 10, last, *d, constant);
  EXPECT_EQ(after.disc_factor, 1.0);
  EXPECT_GT(after.d_weight, 0.0);
  EXPECT_NEAR(after.loss.item<double>(), before.loss.item<double>() + after.d_weight * after.g_loss, 1e-5);
  EXPECT_FALSE(discriminator_loss(c, x, recon, 9, *d).loss.defined());
  EXPECT_GT(discriminator_loss(c, x, recon, 10, *d).loss.item<double>(), 0.0);
  c.gan = false;  // VQ-VAE mode
  EXPECT_EQ(generator_loss(c, codebook_loss, x, recon, 100, last, *d, {}).disc_factor, 0.0);
}

TEST(VQGanLoss, CielabOfKnownColoursAndItsGradient) {
  // White, black, sRGB red and a navy, as the CIE formulas give them (L, a, b; divided by 100 here).
  auto pixels = torch::tensor({1.0, -1.0, 1.0, 0.0 / 255 * 2 - 1,  // R of white, black, red, navy (0, 0, 128)
                               1.0, -1.0, -1.0, -1.0,                // G
                               1.0, -1.0, -1.0, 128.0 / 255 * 2 - 1})  // B
                    .view({3, 4})
                    .t()
                    .reshape({4, 3, 1, 1})
                    .requires_grad_();
  auto lab = rgb_to_lab(pixels).squeeze(-1).squeeze(-1) * 100;
  const double expected[4][3] = {{100, 0, 0}, {0, 0, 0}, {53.24, 80.09, 67.20}, {12.98, 47.50, -64.70}};
  double worst = 0;
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 3; ++k) worst = std::max(worst, std::abs(lab[i][k].item<double>() - expected[i][k]));
  std::printf("CIELAB max difference from the CIE values: %.4f\n", worst);
  EXPECT_LT(worst, 0.05);
  lab.sum().backward();  // black and the clamp's edges included
  EXPECT_TRUE(torch::isfinite(pixels.grad()).all().item<bool>());

  // The term in the generator loss: nothing for a perfect reconstruction, navy drawn as blue costs its CIELAB
  // distance (|dL| 0.19, |da| 0.32, |db| 0.43 over 100), added to L1.
  VQLossConfig c;
  c.gan = false, c.perceptual_weight = 0, c.codebook_weight = 0, c.colour_weight = 1;
  NLayerDiscriminator d(3, 8, 2);
  auto last = torch::zeros({1});
  auto navy = pixels.detach().slice(0, 3, 4).expand({1, 3, 4, 4}).contiguous();
  auto blue = navy.clone();
  blue.select(1, 2).fill_(1.0);  // (0, 0, 255)
  EXPECT_NEAR(generator_loss(c, torch::tensor(0.0), navy, navy, 0, last, *d, {}).colour, 0.0, 1e-7);
  auto shifted = generator_loss(c, torch::tensor(0.0), navy, blue, 0, last, *d, {});
  EXPECT_NEAR(shifted.colour, (0.193 + 0.317 + 0.432) / 3, 0.01);
  EXPECT_NEAR(shifted.loss.item<double>(), shifted.l1 + shifted.colour, 1e-5);
}

TEST(LPIPS, HasTamingsKeysAndLoadsThem) {
  LPIPS lpips;
  auto s = shapes(*lpips);
  EXPECT_EQ(s["net.slice1.0.weight"], (std::vector<int64_t>{64, 3, 3, 3}));
  EXPECT_EQ(s["net.slice2.5.weight"], (std::vector<int64_t>{128, 64, 3, 3}));
  EXPECT_EQ(s["net.slice3.14.bias"], (std::vector<int64_t>{256}));
  EXPECT_EQ(s["net.slice5.28.weight"], (std::vector<int64_t>{512, 512, 3, 3}));
  EXPECT_EQ(s["lin0.model.1.weight"], (std::vector<int64_t>{1, 64, 1, 1}));
  EXPECT_EQ(s["lin4.model.1.weight"], (std::vector<int64_t>{1, 512, 1, 1}));
  EXPECT_EQ(s["scaling_layer.shift"], (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_EQ(s.size(), 2u + 13 * 2 + 5);

  testing::TempDir dir;
  NamedTensors tensors;
  for (auto& [name, t] : state_dict(*lpips))
    if (name.rfind("scaling_layer", 0) != 0) tensors.emplace_back(name, torch::rand(t.sizes()) * 0.1);
  save_tensors(dir / "lpips.safetensors", tensors);
  LPIPS loaded;
  load_lpips(*loaded, dir / "lpips.safetensors");
  for (const auto& [name, t] : tensors) {
    if (name == "lin2.model.1.weight") {
      EXPECT_TRUE(torch::equal(loaded->named_parameters()[name], t));
    }
  }
  torch::NoGradGuard no_grad;
  auto x = torch::rand({1, 3, 32, 32}) * 2 - 1;
  EXPECT_EQ(loaded(x, x).abs().max().item<double>(), 0.0);
  EXPECT_GT(loaded(x, -x).min().item<double>(), 0.0);

  tensors.erase(tensors.begin());
  save_tensors(dir / "partial.safetensors", tensors);
  try {
    load_lpips(*loaded, dir / "partial.safetensors");
    FAIL() << "a missing tensor must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'net.slice1.0.weight' is missing"), std::string::npos) << e.what();
  }
}

TEST(FeatureNet, HeadsAndDistance) {
  FeatureNetConfig c;
  c.widths = {16, 32};
  c.num_categories = 5;
  c.num_colours = 7;
  FeatureNet net(c);
  auto x = torch::rand({2, 3, 32, 32}) * 2 - 1;
  auto logits = net(x);
  EXPECT_EQ(logits.category.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(logits.colour.sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_FALSE(logits.print.defined());
  auto features = net->features(x);
  ASSERT_EQ(features.size(), 2u);
  EXPECT_EQ(features[1].sizes(), (std::vector<int64_t>{2, 32, 16, 16}));
  auto y = x.clone().requires_grad_(true);
  auto same = feature_distance(*net, x, y);
  EXPECT_EQ(same.sizes(), (std::vector<int64_t>{2, 1, 1, 1}));
  EXPECT_LT(same.abs().max().item<double>(), 1e-6);
  auto d = feature_distance(*net, x, y + 0.5 * torch::randn_like(x));
  EXPECT_GT(d.min().item<double>(), 0.0);
  d.sum().backward();  // differentiable in the reconstruction
  EXPECT_GT(y.grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace couture
