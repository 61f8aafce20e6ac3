#include "train/features_trainer.h"

#include "core/error.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "models/vqgan_loss.h"
#include "nn/tensor_io.h"
#include "train/sharding.h"

namespace couture {

namespace {

FeatureNetConfig config_for(const AttributeClasses& classes) {
  FeatureNetConfig config;
  config.num_categories = int64_t(classes.categories.size());
  config.num_colours = int64_t(classes.colours.size());
  config.num_prints = int64_t(classes.prints.size());
  return config;
}

nlohmann::json config_json(const FeatureNetConfig& c) {
  return {{"in_channels", c.in_channels}, {"widths", c.widths}};
}

}  // namespace

void train_features(const TrainSettings& settings) {
  auto dist = join_distributed_from_env();
  const auto device = parse_device(settings.device);
  Dataset train = Dataset::open(settings.dataset, "train"), test = Dataset::open(settings.dataset, "test");
  AttributeLabels labels = read_attribute_labels(train, nullptr);
  AttributeLabels test_labels = read_attribute_labels(test, &labels.classes);
  COUTURE_CHECK_INPUT(labels.classes.categories.size() > 1 && labels.classes.colours.size() > 1,
                      "dataset '", settings.dataset.string(), "': needs at least two categories and colours");
  FeatureNetConfig config = config_for(labels.classes);
  nlohmann::json model_json = {{"config", config_json(config)}, {"classes", labels.classes.to_json()}};
  write_run_info(settings, "train features", model_json, dist.get());

  torch::manual_seed(settings.seed);
  FeatureNet net(config);
  net->to(device);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(settings.lr).weight_decay(1e-4));
  std::map<std::string, std::string> metadata = {{"format", "couture-features"}, {"config", model_json.dump()}};
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
    auto x = images_to_tensor(train, idx).to(device);
    auto loss = attribute_loss(net->forward(x), labels, torch::tensor(idx));
    loss.backward();
    apply_gradients(*net, opt, 1.0, dist.get());
    return Metrics{{"loss", loss.item<double>()}};
  };
  hooks.validate = [&](int64_t) {
    net->eval();
    auto logits_of = [&](const at::Tensor& x) { return net->forward(x); };
    return evaluate_attributes(logits_of, test, test_labels, 2000, device).metrics();
  };
  run_training_loop(loop_options(settings, "train features", dist), state, hooks);
  if (!dist || dist->is_main()) {
    save_tensors(settings.out / "features.safetensors", state_dict(*net), metadata);
    log::info("train features: wrote " + (settings.out / "features.safetensors").string());
  }
}

std::shared_ptr<LoadedFeatureNet> load_feature_net(const std::filesystem::path& path) {
  std::filesystem::path file = std::filesystem::is_directory(path) ? path / "features.safetensors" : path;
  auto weights = SafetensorsFile::open(file);
  auto it = weights.metadata().find("config");
  COUTURE_CHECK_INPUT(it != weights.metadata().end() && weights.metadata().count("format") &&
                          weights.metadata().at("format") == "couture-features",
                      "'", file.string(), "': not a features network written by `couture train features`");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("'" + file.string() + "': metadata 'config' is not JSON: " + e.what());
  }
  auto loaded = std::make_shared<LoadedFeatureNet>();
  loaded->classes = AttributeClasses::from_json(j.at("classes"));
  FeatureNetConfig config = config_for(loaded->classes);
  config.widths = j.at("config").at("widths").get<std::vector<int64_t>>();
  loaded->net = FeatureNet(config);
  load_state_dict(*loaded->net, weights, "features network");
  loaded->net->eval();
  for (auto& p : loaded->net->parameters()) p.requires_grad_(false);
  return loaded;
}

}  // namespace couture
