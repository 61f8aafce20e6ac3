#include "train/vqgan_trainer.h"

#include <cmath>

#include "core/error.h"
#include "core/files.h"
#include "data/code_shards.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "io/image.h"
#include "models/vqgan.h"
#include "models/vqgan_loss.h"
#include "nn/tensor_io.h"
#include "train/features_trainer.h"
#include "train/sharding.h"

namespace couture {
namespace {

std::vector<int64_t> first_n(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

}  // namespace

void train_vqgan(const VQGanTrainOptions& o) {
  const auto& s = o.settings;
  const auto device = parse_device(s.device);
  auto dist = join_distributed_from_env(device);
  const bool main_rank = !dist || dist->is_main();
  Dataset train = Dataset::open(s.dataset, "train"), test = Dataset::open(s.dataset, "test");
  COUTURE_CHECK_INPUT(!(o.decoder_of && o.config), "train vqgan: give --decoder-of or --config, not both (the "
                      "decoder's tokenizer brings its own config)");
  const auto source = o.decoder_of ? run_file(*o.decoder_of, "vqgan.safetensors") : std::filesystem::path();
  std::optional<VQModel> loaded;
  if (o.decoder_of) loaded = load_vqgan(source);
  VQGanConfig config = loaded                 ? (*loaded)->config()
                       : o.config             ? VQGanConfig::load(*o.config)
                                              : VQGanConfig::preset(o.preset);
  COUTURE_CHECK_INPUT(train.height() == config.resolution && train.width() == config.resolution, "dataset '",
                      s.dataset.string(), "' holds ", train.width(), "x", train.height(),
                      " images but the VQGAN config expects ", config.resolution, "x", config.resolution,
                      " (prepare it with --size ", config.resolution, ")");

  VQLossConfig loss_config;
  loss_config.gan = !o.vqvae;
  loss_config.perceptual_weight = o.vqvae ? 0.0 : o.perceptual_weight;
  loss_config.l2_weight = o.l2_weight;
  loss_config.colour_weight = o.colour_weight;
  loss_config.disc_start = o.disc_start >= 0 ? o.disc_start : s.steps / 3;
  loss_config.disc_weight = o.disc_weight;
  loss_config.codebook_weight = o.codebook_weight;

  PerceptualDistance perceptual;
  std::string perceptual_name = "none";
  LPIPS lpips{nullptr};
  std::shared_ptr<LoadedFeatureNet> features;
  if (!o.vqvae && o.lpips) {
    lpips = LPIPS();
    load_lpips(*lpips, *o.lpips);
    lpips->to(device);
    perceptual = [&](const at::Tensor& a, const at::Tensor& b) { return lpips->forward(a, b); };
    perceptual_name = "lpips:" + o.lpips->string();
  } else if (!o.vqvae && o.features) {
    features = load_feature_net(*o.features);
    features->net->to(device);
    perceptual = [&](const at::Tensor& a, const at::Tensor& b) { return feature_distance(*features->net, a, b); };
    perceptual_name = "features:" + o.features->string();
  }
  if (!perceptual) loss_config.perceptual_weight = 0.0;

  nlohmann::json model_json = {{"config", config.to_json()},       {"vqvae", o.vqvae},
                               {"perceptual", perceptual_name},    {"disc_start", loss_config.disc_start},
                               {"disc_weight", o.disc_weight},     {"codebook_weight", o.codebook_weight},
                               {"perceptual_weight", loss_config.perceptual_weight},
                               {"l2_weight", loss_config.l2_weight}};
  // Only when used, so that runs made before the option resume.
  if (o.colour_weight > 0) model_json["colour_weight"] = o.colour_weight;
  if (o.decoder_of) model_json["decoder_of"] = fingerprint_hex(file_fingerprint(source));
  write_run_info(s, "train vqgan", model_json, dist.get());
  if (main_rank) log::info("train vqgan: perceptual loss: " + perceptual_name);
  if (main_rank && o.decoder_of)
    log::info("train vqgan: fine-tuning the decoder of " + source.string() + " (encoder and codebook frozen)");

  torch::manual_seed(s.seed);
  at::Generator generator = at::detail::createCPUGenerator(s.seed + 17);
  VQModel model = loaded ? *loaded : VQModel(config);
  model->to(device);
  // Decoder fine-tuning: the encoder, quant_conv and codebook neither learn nor re-initialise dead codes.
  const bool frozen_codes = o.decoder_of.has_value();
  std::vector<at::Tensor> trained = model->parameters();
  if (frozen_codes) {
    trained = model->decoder->parameters();
    for (auto& p : model->post_quant_conv->parameters()) trained.push_back(p);
    for (const auto& m : std::vector<std::shared_ptr<torch::nn::Module>>{model->encoder.ptr(), model->quant_conv.ptr(),
                                                                         model->quantize.ptr()})
      for (auto& p : m->parameters()) p.requires_grad_(false);
  }
  const int64_t reinit_every = frozen_codes ? 0 : o.reinit_every;
  NLayerDiscriminator disc(loss_config.disc_in_channels, loss_config.disc_ndf, loss_config.disc_num_layers);
  init_discriminator_weights(*disc, generator);
  disc->to(device);
  torch::optim::Adam opt_ae(trained, torch::optim::AdamOptions(s.lr).betas({0.5, 0.9}));
  torch::optim::Adam opt_d(disc->parameters(), torch::optim::AdamOptions(s.lr).betas({0.5, 0.9}));
  auto metadata = vqgan_metadata(config);
  // The quantizer's dead-code bookkeeping (counts since the last re-initialisation, remembered encoder outputs)
  // rides along, so that a resumed run re-initialises exactly the codes an uninterrupted one would.
  TrainingState state{{{"model", model.ptr().get(), &opt_ae, metadata},
                       {"discriminator", disc.ptr().get(), &opt_d, {}},
                       {"quantizer", model->quantize->training_state().ptr().get(), nullptr, {}, /*optional=*/true}},
                      {{"vqgan", generator}}};
  ShardedSampler sampler(train.size(), s.batch, s.seed, dist ? dist->rank() : 0, dist ? dist->world_size() : 1);

  // k-means over a few batches of encoder outputs gives every code a region of the data from the start.
  // Not when resuming: the checkpoint's codebook replaces it (a checkpoints folder alone may hold only a killed
  // run's temporary folder).
  if (o.kmeans_init && !frozen_codes && main_rank && list_checkpoints(s.out).empty()) {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> vectors;
    for (int64_t b = 1; b <= 8; ++b) {
      auto h = model->encode(images_to_tensor(train, sampler.batch(b)).to(device)).h;
      vectors.push_back(h.permute({0, 2, 3, 1}).reshape({-1, config.embed_dim}));
    }
    double mse = model->quantize->kmeans_init(torch::cat(vectors), 20, generator);
    log::info("train vqgan: k-means initialised the codebook (mean squared distance " + std::to_string(mse) + ")");
  }

  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    model->train();
    if (frozen_codes) model->encoder->eval(), model->quantize->eval();
    disc->train();
    auto x = images_to_tensor(train, sampler.batch(step)).to(device);
    VQEncoded enc;
    at::Tensor rec;
    {
      // bf16 autocast runs the VQGAN's convolutions in bf16 (oneDNN); the quantizer, the norms, the perceptual
      // network, the discriminator and the loss stay F32 (docs/vqgan.md measures the speed and what it costs).
      Bf16Autocast autocast(s.bf16, device);
      {
        std::optional<torch::NoGradGuard> frozen;
        if (frozen_codes) frozen.emplace();
        enc = model->encode(x);
      }
      rec = model->decode(enc.zq).to(torch::kFloat);
    }
    auto g = generator_loss(loss_config, enc.codebook_loss, x, rec, step, model->last_layer(), *disc, perceptual);
    g.loss.backward();
    apply_gradients(*model, opt_ae, 0, dist.get());
    Metrics m{{"loss", g.loss.item<double>()}, {"l1", g.l1},     {"perceptual", g.perceptual},
              {"codebook", g.codebook},        {"g_loss", g.g_loss}, {"d_weight", g.d_weight}};
    if (o.colour_weight > 0) m["colour"] = g.colour;
    opt_d.zero_grad();  // the generator's GAN term reached the discriminator too
    auto d = discriminator_loss(loss_config, x, rec.detach(), step, *disc);
    if (d.loss.defined()) {
      d.loss.backward();
      apply_gradients(*disc, opt_d, 0, dist.get());
      m["d_loss"] = d.loss.item<double>();
    }
    if (reinit_every > 0 && step % reinit_every == 0) {
      const CodebookStats window = model->quantize->since_reinit();  // the codes chosen since the last report
      m["codebook_usage"] = window.usage();
      m["codebook_perplexity"] = window.perplexity();
      if (double(step) < o.reinit_until * double(s.steps)) {
        torch::NoGradGuard no_grad;
        m["codes_reinit"] = double(model->quantize->reinit_dead_codes(generator));
        if (dist) dist->broadcast_module(*model->quantize);
      } else {
        model->quantize->reset_since_reinit();
      }
    }
    return m;
  };
  const auto held_out = first_n(std::min<int64_t>(test.size(), 512));
  hooks.validate = [&](int64_t) {
    torch::NoGradGuard no_grad;
    model->eval();
    CodebookStats stats(config.n_embed);
    double l1 = 0, mse = 0;
    for (size_t start = 0; start < held_out.size(); start += 64) {
      std::vector<int64_t> idx(held_out.begin() + long(start), held_out.begin() + long(std::min(held_out.size(), start + 64)));
      auto x = images_to_tensor(test, idx).to(device);
      auto enc = model->encode(x);
      auto rec = model->decode(enc.zq).clamp(-1, 1);
      stats.add(enc.indices);
      l1 += (rec - x).abs().mean().item<double>() * double(idx.size());
      mse += ((rec - x) / 2).pow(2).mean({1, 2, 3}).clamp_min(1e-10).log10().sum().item<double>();
    }
    double n = double(held_out.size());
    return Metrics{{"val_loss", l1 / n}, {"val_psnr", -10 * mse / n}, {"val_codebook_usage", stats.usage()},
                   {"val_codebook_perplexity", stats.perplexity()}};
  };
  hooks.sample = [&](int64_t step) {
    torch::NoGradGuard no_grad;
    model->eval();
    auto idx = first_n(std::min<int64_t>(test.size(), 8));
    auto x = images_to_tensor(test, idx).to(device);
    auto rec = model->decode(model->encode(x).zq);
    std::vector<Image> tiles;
    for (int64_t i = 0; i < x.size(0); ++i) tiles.push_back(image_from_tensor(x[i]));
    for (int64_t i = 0; i < x.size(0); ++i) tiles.push_back(image_from_tensor(rec[i]));
    Image grid = tile_images(tiles, int(x.size(0)));
    write_png(s.out / "samples" / ("step-" + std::to_string(step) + ".png"), grid);
    write_png(s.out / "samples.png", grid);
  };
  run_training_loop(loop_options(s, "train vqgan", dist), state, hooks);
  if (main_rank) {
    model->to(torch::kCPU);
    save_vqgan(s.out / "vqgan.safetensors", model);
    log::info("train vqgan: wrote " + (s.out / "vqgan.safetensors").string());
  }
}

}  // namespace couture
