#include "train/features_trainer.h"

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "data/dataset.h"
#include "models/vqgan_loss.h"
#include "nn/tensor_io.h"
#include "train/attribute_trainer.h"

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
  AttributeTrainSpec spec{"train features", "couture-features", "features.safetensors", 1e-4, {}, {}, false};
  spec.build = [](const AttributeClasses& classes, const Dataset&) {
    FeatureNet net(config_for(classes));
    return AttributeNetwork{net.ptr(), [net](const at::Tensor& x) mutable { return net->forward(x); },
                            {{"config", config_json(net->config())}, {"classes", classes.to_json()}}};
  };
  train_attribute_classifier(settings, spec);
}

std::shared_ptr<LoadedFeatureNet> load_feature_net(const std::filesystem::path& path) {
  const std::filesystem::path file = run_file(path, "features.safetensors");
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
