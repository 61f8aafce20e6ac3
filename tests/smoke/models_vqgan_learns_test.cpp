// A tiny VQGAN learns: 120 Adam steps over three fixed batches of simple synthetic images (coloured rectangles)
// with taming's loss (L1 + codebook, then the PatchGAN from disc_start), and the L1 reconstruction error falls
// clearly.
#include <gtest/gtest.h>

#include <cstdio>

#include "models/vqgan.h"
#include "models/vqgan_loss.h"

namespace couture {
namespace {

// Images in [-1, 1]: a random background colour with a random rectangle of another colour.
at::Tensor rectangles(int64_t n, int64_t size, at::Generator& gen) {
  auto images = torch::empty({n, 3, size, size});
  for (int64_t i = 0; i < n; ++i) {
    auto colours = torch::rand({2, 3, 1, 1}, gen) * 2 - 1;
    auto corners = torch::randint(0, size / 2 + 1, {2}, gen);
    const int64_t y = corners[0].item<int64_t>(), x = corners[1].item<int64_t>();
    images[i].copy_(colours[0].expand({3, size, size}));
    images[i].slice(1, y, y + size / 2).slice(2, x, x + size / 2).copy_(colours[1].expand({3, size / 2, size / 2}));
  }
  return images;
}

TEST(VQGanSmoke, ReconstructionLossFalls) {
  torch::manual_seed(0);
  at::Generator gen = at::detail::createCPUGenerator(1);
  VQGanConfig c;
  c.resolution = 16;
  c.ch = 32;
  c.ch_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attn_resolutions = {8};
  c.z_channels = 16;
  c.embed_dim = 16;
  c.n_embed = 32;
  VQModel model(c);
  VQLossConfig loss_config;
  loss_config.disc_start = 80;
  loss_config.perceptual_weight = 0;
  loss_config.disc_ndf = 16;
  loss_config.disc_num_layers = 2;
  NLayerDiscriminator disc(3, loss_config.disc_ndf, loss_config.disc_num_layers);
  init_discriminator_weights(*disc, gen);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3).betas({0.5, 0.9}));
  torch::optim::Adam opt_d(disc->parameters(), torch::optim::AdamOptions(1e-3).betas({0.5, 0.9}));

  const std::vector<at::Tensor> batches = {rectangles(8, 16, gen), rectangles(8, 16, gen), rectangles(8, 16, gen)};
  std::vector<double> l1;
  const int steps = 120;
  for (int step = 0; step < steps; ++step) {
    auto x = batches[size_t(step) % batches.size()];
    auto enc = model->encode(x);
    auto recon = model->decode(enc.zq);
    auto g = generator_loss(loss_config, enc.codebook_loss, x, recon, step, model->last_layer(), *disc, {});
    opt.zero_grad();
    g.loss.backward();
    opt.step();
    auto d = discriminator_loss(loss_config, x, recon, step, *disc);
    if (d.loss.defined()) {
      opt_d.zero_grad();
      d.loss.backward();
      opt_d.step();
    }
    if (step % 10 == 0) model->quantize->reinit_dead_codes(gen);
    l1.push_back(g.l1);
  }
  auto mean = [&](int from, int to) {
    double s = 0;
    for (int i = from; i < to; ++i) s += l1[size_t(i)];
    return s / (to - from);
  };
  const double first = mean(0, 5), last = mean(steps - 5, steps);
  std::printf("L1 over the first 5 steps %.4f, over the last 5 %.4f (GAN from step %lld); codebook usage %lld/%lld\n",
              first, last, static_cast<long long>(loss_config.disc_start),
              static_cast<long long>(model->quantize->usage.used_codes()), static_cast<long long>(c.n_embed));
  EXPECT_LT(last, 0.7 * first);
}

}  // namespace
}  // namespace couture
