#include "train/judge_trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/stable_hash.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "train/sharding.h"

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
  auto dist = join_distributed_from_env();
  const auto device = parse_device(settings.device);
  Dataset train = Dataset::open(settings.dataset, "train"), test = Dataset::open(settings.dataset, "test");
  AttributeLabels labels = read_attribute_labels(train, nullptr);
  AttributeLabels test_labels = read_attribute_labels(test, &labels.classes);
  COUTURE_CHECK_INPUT(labels.classes.categories.size() > 1 && labels.classes.colours.size() > 1,
                      "dataset '", settings.dataset.string(), "': needs at least two categories and colours");
  COUTURE_CHECK_INPUT(train.height() == train.width(), "dataset '", settings.dataset.string(),
                      "': the judge needs square images, got ", train.height(), "x", train.width());
  const JudgeConfig config = with_heads(base_config, labels.classes);
  nlohmann::json model_json = {{"config", config.to_json()}, {"classes", labels.classes.to_json()},
                               {"image_size", train.height()}};
  write_run_info(settings, "train judge", model_json, dist.get());

  torch::manual_seed(settings.seed);
  JudgeNet net(config);
  net->to(device);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(settings.lr).weight_decay(5e-4));
  std::map<std::string, std::string> metadata = {{"format", kFormat}, {"config", model_json.dump()}};
  TrainingState state{{{"model", net.ptr().get(), &opt, metadata}}};
  ShardedSampler sampler(train.size(), settings.batch, settings.seed, dist ? dist->rank() : 0,
                         dist ? dist->world_size() : 1);

  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    for (auto& g : opt.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(
          warmup_cosine(step - 1, settings.warmup, settings.steps, settings.lr));
    net->train();
    auto idx = sampler.batch(step);
    // The augmentation's randomness is a function of (seed, step, rank): a resumed run sees the same batches.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(
        stable_hash("judge-augment/" + std::to_string(settings.seed) + "/" + std::to_string(step) + "/" +
                    std::to_string(dist ? dist->rank() : 0)));
    auto x = augment(images_to_tensor(train, idx), generator).to(device);
    auto loss = attribute_loss(net->forward(x), labels, torch::tensor(idx, torch::kLong));
    loss.backward();
    apply_gradients(*net, opt, 1.0, dist.get());
    return Metrics{{"loss", loss.item<double>()}};
  };
  auto logits_of = [&](const at::Tensor& x) { return net->forward(x); };
  hooks.validate = [&](int64_t) {
    net->eval();
    return evaluate_attributes(logits_of, test, test_labels, 2000, device).metrics();
  };
  const int64_t steps_done = run_training_loop(loop_options(settings, "train judge", dist), state, hooks);
  if (dist && !dist->is_main()) return;

  net->eval();
  auto final = evaluate_attributes(logits_of, test, test_labels, 0, device);
  nlohmann::json info = {{"dataset", settings.dataset.string()}, {"steps", steps_done},
                         {"test_records", final.hits.n}, {"test_accuracy", final.hits.to_json()}};
  metadata["info"] = info.dump();
  save_tensors(settings.out / "judge.safetensors", state_dict(*net), metadata);
  log::info("train judge: test accuracy (" + std::to_string(final.hits.n) + " real images) " +
            final.hits.to_json().dump() + "; wrote " + (settings.out / "judge.safetensors").string());
}

std::shared_ptr<LoadedJudge> load_judge(const std::filesystem::path& path) {
  std::filesystem::path file = std::filesystem::is_directory(path) ? path / "judge.safetensors" : path;
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
