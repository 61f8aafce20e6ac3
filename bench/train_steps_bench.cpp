// One optimiser step of each `couture train ...` at its `fmnist` preset and default batch, built as the trainers
// build it (src/train/*_trainer.cpp: the same models, losses, optimisers and gradient clipping) on one fixed batch of
// random data, so no dataset is needed:
//   vqgan_vqvae  VQ-VAE mode (L1 + codebook), batch 8, Adam 2e-4 betas 0.5/0.9;
//   vqgan_gan    + hinge PatchGAN (from step 1) + perceptual distance on a RANDOMLY INITIALISED FeatureNet (the real
//                one is trained on the dataset; its cost is the same), generator and discriminator updates;
//   dalle_fp32 / dalle_bf16_autocast  batch 32, AdamW 4.5e-4 (decay on matmul weights), clipping at 0.5;
//   clip         batch 64 pairs with garment augmentation, AdamW 5e-4, clipping at 1.
// Learning rates are the presets' peaks (no warm-up). Speed: median s/step after a first, untimed step. Quality: the
// loss after the timed steps divided by the first step's (below 1: the step learns, here by fitting the batch).
#include <ATen/autocast_mode.h>

#include <functional>

#include "bench_common.h"
#include "core/threads.h"
#include "models/clip.h"
#include "models/dalle.h"
#include "models/vqgan.h"
#include "models/vqgan_loss.h"
#include "nn/threads.h"
#include "train/loop.h"

using namespace couture;

namespace {

// One optimisation step on the case's fixed batch, returning the loss before the update.
struct Trainable {
  std::function<double()> step;
  double items_per_step = 0;
  std::string unit;
};

// Smooth random images in [-1, 1] (bilinear upsampling of a 8x8 grid): closer to garments than per-pixel noise.
at::Tensor smooth_images(int64_t batch, int64_t side, at::Generator gen) {
  namespace F = torch::nn::functional;
  return F::interpolate(at::rand({batch, 3, 8, 8}, gen) * 2 - 1,
                        F::InterpolateFuncOptions().size(std::vector<int64_t>{side, side}).mode(torch::kBilinear)
                            .align_corners(false));
}

Trainable vqgan_case(bool gan, int64_t batch, at::Generator gen) {
  const VQGanConfig config = VQGanConfig::preset("fmnist");
  VQLossConfig loss_config;
  loss_config.gan = gan;
  loss_config.perceptual_weight = gan ? 1.0 : 0.0;
  loss_config.disc_start = 0;
  VQModel model(config);
  NLayerDiscriminator disc(loss_config.disc_in_channels, loss_config.disc_ndf, loss_config.disc_num_layers);
  init_discriminator_weights(*disc, gen);
  PerceptualDistance perceptual;
  if (gan) {
    FeatureNet features{FeatureNetConfig{}};
    for (auto& p : features->parameters()) p.set_requires_grad(false);
    features->eval();
    perceptual = [features](const at::Tensor& a, const at::Tensor& b) {
      return feature_distance(*features.ptr(), a, b);
    };
  }
  auto opt_ae = std::make_shared<torch::optim::Adam>(model->parameters(),
                                                     torch::optim::AdamOptions(2e-4).betas({0.5, 0.9}));
  auto opt_d = std::make_shared<torch::optim::Adam>(disc->parameters(),
                                                    torch::optim::AdamOptions(2e-4).betas({0.5, 0.9}));
  auto x = smooth_images(batch, config.resolution, gen);
  auto step = std::make_shared<int64_t>(0);
  return {[=]() mutable {
            model->train();
            disc->train();
            ++*step;
            auto enc = model->encode(x);
            auto rec = model->decode(enc.zq);
            auto g = generator_loss(loss_config, enc.codebook_loss, x, rec, *step, model->last_layer(), *disc,
                                    perceptual);
            g.loss.backward();
            apply_gradients(*model, *opt_ae, 0, nullptr);
            opt_d->zero_grad();
            auto d = discriminator_loss(loss_config, x, rec.detach(), *step, *disc);
            if (d.loss.defined()) {
              d.loss.backward();
              apply_gradients(*disc, *opt_d, 0, nullptr);
            }
            return g.loss.item<double>();
          },
          double(batch), "images/s"};
}

Trainable dalle_case(bool autocast, int64_t batch, at::Generator gen) {
  DalleConfig config = DalleConfig::preset("fmnist");
  config.text_pad_id = 0;  // train sets the vocab's [PAD]; the random captions below have none
  config.null_caption_prob = 0.1;  // the trainer's default
  torch::manual_seed(3);
  Dalle model(config);
  std::vector<at::Tensor> decay, no_decay;
  for (auto& p : model->parameters()) (p.dim() == 2 ? decay : no_decay).push_back(p);
  auto options = torch::optim::AdamWOptions(4.5e-4).betas({0.9, 0.96});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options.weight_decay(0.045)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options.weight_decay(0.0)));
  auto opt = std::make_shared<torch::optim::AdamW>(groups, options);
  auto text = at::randint(2, config.num_text_tokens, {batch, config.text_seq_len}, gen, at::kLong);
  auto codes = at::randint(config.num_image_tokens, {batch, config.image_seq_len()}, gen, at::kLong);
  return {[=]() mutable {
            model->train();
            opt->zero_grad();
            at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
            at::autocast::set_cpu_enabled(autocast);
            auto loss = model->loss(text, codes).loss;
            at::autocast::set_cpu_enabled(false);
            loss.backward();
            at::autocast::clear_cache();
            apply_gradients(*model, *opt, 0.5, nullptr);
            return loss.item<double>();
          },
          double(batch * config.total_seq_len()), "tokens/s"};
}

Trainable clip_case(int64_t batch, at::Generator gen) {
  ClipConfig config = ClipConfig::preset("fmnist");
  config.set_vocab(1000, 0);
  Clip model(config);
  model->reset_parameters(gen);
  std::vector<at::Tensor> decay, rest;
  for (auto& p : model->parameters()) (p.dim() >= 2 ? decay : rest).push_back(p);
  auto options = torch::optim::AdamWOptions(5e-4).betas({0.9, 0.98}).eps(1e-6);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options.weight_decay(0.2)));
  groups.emplace_back(rest, std::make_unique<torch::optim::AdamWOptions>(options.weight_decay(0.0)));
  auto opt = std::make_shared<torch::optim::AdamW>(groups, options);
  const int64_t T = 20;  // Couture-FMNIST's full captions take at most 18 tokens
  auto ids = at::randint(2, 1000, {batch, T}, gen, at::kLong);
  auto images = smooth_images(batch, config.image_size, gen);
  return {[=]() mutable {
            model->train();
            auto loss = model->loss(model->encode_text(ids, at::ones_like(ids)),
                                    model->encode_image(augment_garments(images, gen)));
            loss.backward();
            apply_gradients(*model, *opt, 1.0, nullptr);
            return loss.item<double>();
          },
          double(batch), "images/s"};
}

bench::Row run_case(const std::string& name, const std::string& what, const std::function<Trainable()>& make,
                    int reps) {
  bench::Row r;
  r.bench = "train_steps", r.case_name = name, r.what = what, r.threads = threads();
  bench::reset_peak_rss();
  Trainable t = make();
  const double first = t.step();  // step 1, untimed
  std::vector<double> seconds;
  double last = first;
  for (int i = 0; i < reps; ++i) {
    const double start = bench::now();
    last = t.step();
    seconds.push_back(bench::now() - start);
  }
  r.median_s = bench::median(seconds), r.reps = reps;
  r.throughput = t.items_per_step / r.median_s, r.throughput_unit = t.unit;
  r.quality = last / first;
  r.quality_label = "loss step " + std::to_string(reps + 1) + " / step 1";
  r.peak_mb = bench::peak_rss_mb();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);  // see nn/threads.h: OpenMP waiting and OpenBLAS kernels
  CLI::App app{"One training step of each model at its fmnist preset (random data, fixed batch)"};
  bench::Options o{.reps = 5};
  bench::add_common_options(app, o, "2 timed steps per case");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) o.reps = std::min(o.reps, 2);
  init_torch_threads(o.threads);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  torch::manual_seed(5);
  const std::vector<std::tuple<std::string, std::string, std::function<Trainable()>>> cases = {
      {"vqgan_vqvae", "VQGAN VQ-VAE step, batch 8", [&] { return vqgan_case(false, 8, gen); }},
      {"vqgan_gan", "VQGAN + GAN + perceptual (random FeatureNet), batch 8", [&] { return vqgan_case(true, 8, gen); }},
      {"dalle_fp32", "DALL-E step, batch 32, fp32", [&] { return dalle_case(false, 32, gen); }},
      {"dalle_bf16_autocast", "DALL-E step, batch 32, bf16 autocast", [&] { return dalle_case(true, 32, gen); }},
      {"clip", "CLIP step, batch 64 (augmented)", [&] { return clip_case(64, gen); }}};
  std::printf("training steps, fmnist presets: %s, %d threads, median of %d steps after the first\n",
              bench::cpu_model().c_str(), threads(), o.reps);
  bench::print_rows_header();
  std::vector<bench::Row> rows;
  int status = 0;
  for (const auto& [name, what, make] : cases) {
    try {
      rows.push_back(run_case(name, what, make, o.reps));
    } catch (const std::exception& e) {
      rows.push_back({.bench = "train_steps", .case_name = name, .what = what});
      rows.back().note = std::string("failed: ") + e.what();
      status = 1;
    }
    bench::print_row(rows.back());
  }
  bench::write_json(o.json_path, {{"bench", "train_steps"}, {"threads", threads()}, {"steps_timed", o.reps}}, rows);
  return status;
}
