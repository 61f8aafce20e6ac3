// KoCLIP encoding speed: images/s and captions/s for the `kodalle` and `fmnist` presets in fp32 and bf16, with the
// bf16 embeddings' cosine similarity to the fp32 ones as the quality figure.
// Usage: models_clip_bench [--json FILE] [--reps N] [--threads N] [--quick (fmnist only)]. Weights are drawn by
// reset_parameters (seeded) and BatchNorm statistics are set from one batch, so activations have realistic scales.
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "core/threads.h"
#include "models/clip.h"
#include "nn/threads.h"

using namespace couture;

namespace {

struct Case {
  std::string preset, dtype, side;
  int64_t batch = 0, tokens = 0;
  double per_second = 0, seconds = 0, cosine_mean = 1, cosine_min = 1;
  std::string note;
};

// Running statistics from one train-mode pass (momentum 1), as if the model had been trained on such inputs.
void calibrate_batchnorm(Clip& model, const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, double>> saved;
  for (const auto& m : model->modules())
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      saved.emplace_back(bn, bn->options.momentum().value_or(0.1));
      bn->options.momentum(1.0);
    }
  model->train();
  model->encode_image(images);
  for (auto& [bn, momentum] : saved) bn->options.momentum(momentum);
  model->eval();
}

void cosine_stats(const at::Tensor& a, const at::Tensor& b, Case& c) {
  auto cos = at::cosine_similarity(a.to(at::kFloat), b.to(at::kFloat), 1);
  c.cosine_mean = cos.mean().item<double>();
  c.cosine_min = cos.min().item<double>();
}

std::vector<Case> run_preset(const std::string& preset, int reps) {
  ClipConfig config = ClipConfig::preset(preset);
  const int64_t image_batch = preset == "kodalle" ? 8 : 64, text_batch = preset == "kodalle" ? 16 : 64;
  const int64_t tokens = preset == "kodalle" ? 64 : 32;  // K-Fashion captions run longer than Couture-FMNIST's
  if (preset == "fmnist") config.set_vocab(4000, 1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  Clip model(config);
  model->reset_parameters(gen);
  auto images = at::rand({image_batch, 3, config.image_size, config.image_size}, gen) * 2 - 1;
  auto ids = at::randint(3, config.text.vocab_size, {text_batch, tokens}, gen, at::kLong);
  ids.select(1, 0).fill_(0);
  calibrate_batchnorm(model, images);
  torch::NoGradGuard no_grad;

  std::vector<Case> cases;
  at::Tensor ref_images, ref_texts;
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    const std::string name = dtype == at::kFloat ? "fp32" : "bf16";
    model->to(dtype);
    auto x = images.to(dtype);
    Case img{preset, name, "image", image_batch, 0, 0, 0, 1, 1, ""};
    Case txt{preset, name, "text", text_batch, tokens, 0, 0, 1, 1, ""};
    try {
      at::Tensor out_i, out_t;
      img.seconds = bench::time_median(reps, [&] { out_i = model->encode_image(x); }).wall;
      txt.seconds = bench::time_median(reps, [&] { out_t = model->encode_text(ids); }).wall;
      img.per_second = double(image_batch) / img.seconds;
      txt.per_second = double(text_batch) / txt.seconds;
      if (dtype == at::kFloat) {
        ref_images = out_i;
        ref_texts = out_t;
      } else {
        cosine_stats(out_i, ref_images, img);
        cosine_stats(out_t, ref_texts, txt);
      }
    } catch (const std::exception& e) {
      img.note = txt.note = std::string("unsupported: ") + std::string(e.what()).substr(0, 80);
    }
    cases.push_back(img);
    cases.push_back(txt);
  }
  model->to(at::kFloat);
  return cases;
}

bench::Row table_row(const Case& c, int reps) {
  bench::Row r{.bench = "models_clip",
               .case_name = c.preset + "_" + c.side + "_" + c.dtype,
               .what = c.preset + " " + c.side + " tower, " + c.dtype + ", batch " + std::to_string(c.batch)};
  r.note = c.note;
  r.median_s = c.seconds, r.reps = reps, r.threads = threads();
  r.throughput = c.per_second, r.throughput_unit = c.side == "image" ? "images/s" : "captions/s";
  if (c.dtype != "fp32") r.quality = c.cosine_mean;
  r.quality_label = c.dtype == "fp32" ? "reference for bf16" : "cosine vs fp32";
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);  // see nn/threads.h: OpenMP waiting and OpenBLAS kernels
  CLI::App app{"KoCLIP encoding speed, fp32 and bf16"};
  bench::Options o{.reps = 5};
  bench::add_common_options(app, o, "The fmnist preset only");
  CLI11_PARSE(app, argc, argv);
  const int reps = o.reps;
  init_torch_threads(o.threads);
  std::cout << "KoCLIP encoding, " << threads() << " threads of " << core_count() << " cores, median of " << reps
            << " repetitions (after a warm-up)\n";
  std::cout << std::left << std::setw(9) << "preset" << std::setw(6) << "dtype" << std::setw(7) << "tower"
            << std::setw(8) << "batch" << std::setw(8) << "tokens" << std::right << std::setw(12) << "items/s"
            << std::setw(12) << "batch ms" << std::setw(18) << "cos vs fp32 mean" << std::setw(10) << "min"
            << "\n";
  bench::json out = {{"bench", "models_clip"}, {"threads", threads()}, {"reps", reps}, {"cases", {}}};
  std::vector<bench::Row> rows;
  std::vector<std::string> presets = {"fmnist", "kodalle"};
  if (o.quick) presets.pop_back();
  for (const std::string& preset : presets) {
    for (const Case& c : run_preset(preset, reps)) {
      rows.push_back(table_row(c, reps));
      std::cout << std::left << std::setw(9) << c.preset << std::setw(6) << c.dtype << std::setw(7) << c.side
                << std::setw(8) << c.batch << std::setw(8) << (c.tokens ? std::to_string(c.tokens) : "-");
      if (!c.note.empty()) {
        std::cout << c.note << "\n";
      } else {
        std::cout << std::right << std::fixed << std::setprecision(1) << std::setw(12) << c.per_second
                  << std::setw(12) << c.seconds * 1000 << std::setprecision(5) << std::setw(18) << c.cosine_mean
                  << std::setw(10) << c.cosine_min << "\n";
      }
      out["cases"].push_back({{"preset", c.preset},
                              {"dtype", c.dtype},
                              {"tower", c.side},
                              {"batch", c.batch},
                              {"tokens", c.tokens},
                              {c.side == "image" ? "images_per_s" : "captions_per_s", c.per_second},
                              {"median_batch_s", c.seconds},
                              {"cosine_vs_fp32_mean", c.cosine_mean},
                              {"cosine_vs_fp32_min", c.cosine_min},
                              {"note", c.note}});
    }
  }
  bench::write_json(o.json_path, out, rows);
  return 0;
}
