#include "eval/judge_trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/stable_hash.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "train/attribute_trainer.h"

namespace couture {

namespace {

constexpr const char* kFormat = "couture-judge";

JudgeConfig with_heads(JudgeConfig config, const AttributeClasses& classes) {
  config.num_categories = int64_t(classes.categories.size());
  config.num_colours = int64_t(classes.colours.size());
  config.num_prints = int64_t(classes.prints.size());
  return config;
}

// Label-preserving augmentation: a horizontal flip with probability 1/2 and a shift of up to H/16 pixels each way
// (edges repeated). Neither changes a garment's category, colour or print; colours are left alone on purpose.
at::Tensor augment(const at::Tensor& x, at::Generator generator) {
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), pad = std::max<int64_t>(1, H / 16);
  auto flip = at::rand({B, 1, 1, 1}, generator, at::kFloat) < 0.5;
  auto flipped = at::where(flip, x.flip({3}), x);
  auto padded = torch::nn::functional::pad(
      flipped, torch::nn::functional::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
  auto offsets = at::randint(0, 2 * pad + 1, {B, 2}, generator, at::kLong);
  auto off = offsets.accessor<int64_t, 2>();
  std::vector<at::Tensor> out;
  for (int64_t b = 0; b < B; ++b) out.push_back(padded[b].narrow(1, off[b][0], H).narrow(2, off[b][1], W));
  return at::stack(out);
}

}  // namespace

void train_judge(const TrainSettings& settings, const JudgeConfig& base_config) {
  AttributeTrainSpec spec{"train judge", kFormat, "judge.safetensors", 5e-4, {}, {}, true};
  spec.build = [&](const AttributeClasses& classes, const Dataset& train) {
    COUTURE_CHECK_INPUT(train.height() == train.width(), "dataset '", settings.dataset.string(),
                        "': the judge needs square images, got ", train.height(), "x", train.width());
    const JudgeConfig config = with_heads(base_config, classes);
    JudgeNet net(config);
    return AttributeNetwork{net.ptr(), [net](const at::Tensor& x) mutable { return net->forward(x); },
                            {{"config", config.to_json()}, {"classes", classes.to_json()},
                             {"image_size", train.height()}}};
  };
  // The augmentation's randomness is a function of (seed, step, rank): a resumed run sees the same batches.
  spec.augment = [](const at::Tensor& x, uint64_t seed, int64_t step, int rank) {
    return augment(x, at::make_generator<at::CPUGeneratorImpl>(stable_hash(
                          "judge-augment/" + std::to_string(seed) + "/" + std::to_string(step) + "/" +
                          std::to_string(rank))));
  };
  train_attribute_classifier(settings, spec);
}

std::shared_ptr<LoadedJudge> load_judge(const std::filesystem::path& path) {
  const std::filesystem::path file = run_file(path, "judge.safetensors");
  auto weights = SafetensorsFile::open(file);
  const auto& meta = weights.metadata();
  COUTURE_CHECK_INPUT(meta.count("format") && meta.at("format") == kFormat && meta.count("config"), "'",
                      file.string(), "': not a judge written by `couture train judge`");
  auto loaded = std::make_shared<LoadedJudge>();
  try {
    auto j = nlohmann::json::parse(meta.at("config"));
    loaded->classes = AttributeClasses::from_json(j.at("classes"));
    loaded->image_size = j.at("image_size").get<int>();
    loaded->net = JudgeNet(with_heads(JudgeConfig::from_json(j.at("config")), loaded->classes));
    if (meta.count("info")) loaded->info = nlohmann::json::parse(meta.at("info"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError("'" + file.string() + "': metadata is not a judge's: " + e.what());
  }
  COUTURE_CHECK_INPUT(loaded->image_size > 0 && loaded->image_size <= 4096, "'", file.string(),
                      "': image_size ", loaded->image_size, " out of range");
  load_state_dict(*loaded->net, weights, "judge");
  loaded->net->eval();
  for (auto& p : loaded->net->parameters()) p.requires_grad_(false);
  return loaded;
}

JudgeReading judge_images(const LoadedJudge& judge, const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> f, c, o, p;
  for (int64_t start = 0; start < images.size(0); start += 100) {
    auto x = images.narrow(0, start, std::min<int64_t>(100, images.size(0) - start));
    if (x.size(2) != judge.image_size || x.size(3) != judge.image_size) {
      torch::nn::functional::InterpolateFuncOptions resize;
      resize.size(std::vector<int64_t>{judge.image_size, judge.image_size});
      if (x.size(2) > judge.image_size) resize.mode(torch::kArea);
      else resize.mode(torch::kBilinear).align_corners(false);
      x = torch::nn::functional::interpolate(x, resize);
    }
    JudgeNet net = judge.net;  // the holder gives the non-const module
    auto features = net->features(x);
    auto logits = net->heads(features);
    f.push_back(features), c.push_back(logits.category), o.push_back(logits.colour), p.push_back(logits.print);
  }
  return {at::cat(f), {at::cat(c), at::cat(o), at::cat(p)}};
}

}  // namespace couture
