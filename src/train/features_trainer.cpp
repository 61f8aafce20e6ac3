#include "train/features_trainer.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "models/vqgan_loss.h"
#include "nn/tensor_io.h"
#include "train/sharding.h"

namespace couture {

nlohmann::json AttributeClasses::to_json() const {
  return {{"categories", categories}, {"colours", colours}, {"prints", prints}};
}

AttributeClasses AttributeClasses::from_json(const nlohmann::json& j) {
  return {j.at("categories").get<std::vector<std::string>>(), j.at("colours").get<std::vector<std::string>>(),
          j.at("prints").get<std::vector<std::string>>()};
}

namespace {

struct Labels {
  AttributeClasses classes;
  at::Tensor category, colour, print;  // [records] int64; -1 where the value is not among the classes
};

int64_t index_of(const std::vector<std::string>& list, const std::string& v) {
  auto it = std::lower_bound(list.begin(), list.end(), v);
  return it != list.end() && *it == v ? int64_t(it - list.begin()) : -1;
}

Labels read_labels(const Dataset& data, const AttributeClasses* known) {
  std::vector<DatasetRecord> records;
  records.reserve(size_t(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) records.push_back(data.record(i));
  Labels labels;
  if (known) {
    labels.classes = *known;
  } else {
    std::set<std::string> cat, col, pr;
    for (const auto& r : records) cat.insert(r.category), col.insert(r.colour), pr.insert(r.print);
    labels.classes = {{cat.begin(), cat.end()}, {col.begin(), col.end()}, {pr.begin(), pr.end()}};
  }
  std::vector<int64_t> c, o, p;
  for (const auto& r : records) {
    c.push_back(index_of(labels.classes.categories, r.category));
    o.push_back(index_of(labels.classes.colours, r.colour));
    p.push_back(index_of(labels.classes.prints, r.print));
  }
  labels.category = torch::tensor(c), labels.colour = torch::tensor(o), labels.print = torch::tensor(p);
  return labels;
}

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

at::Tensor heads_loss(const FeatureLogits& logits, const Labels& labels, const at::Tensor& idx) {
  auto ce = [&](const at::Tensor& l, const at::Tensor& all) {
    return torch::nn::functional::cross_entropy(
        l, all.index_select(0, idx).to(l.device()),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
  };
  return ce(logits.category, labels.category) + ce(logits.colour, labels.colour) + ce(logits.print, labels.print);
}

}  // namespace

void train_features(const TrainSettings& settings) {
  auto dist = join_distributed_from_env();
  const auto device = parse_device(settings.device);
  Dataset train = Dataset::open(settings.dataset, "train"), test = Dataset::open(settings.dataset, "test");
  Labels labels = read_labels(train, nullptr);
  Labels test_labels = read_labels(test, &labels.classes);
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
    auto loss = heads_loss(net->forward(x), labels, torch::tensor(idx));
    loss.backward();
    apply_gradients(*net, opt, 1.0, dist.get());
    return Metrics{{"loss", loss.item<double>()}};
  };
  hooks.validate = [&](int64_t) {
    torch::NoGradGuard no_grad;
    net->eval();
    int64_t n = std::min<int64_t>(test.size(), 2000), right[3] = {0, 0, 0};
    double loss = 0;
    for (int64_t start = 0; start < n; start += 100) {
      std::vector<int64_t> idx;
      for (int64_t i = start; i < std::min(n, start + 100); ++i) idx.push_back(i);
      auto t = torch::tensor(idx);
      auto logits = net->forward(images_to_tensor(test, idx).to(device));
      loss += heads_loss(logits, test_labels, t).item<double>() * double(idx.size());
      right[0] += logits.category.argmax(1).cpu().eq(test_labels.category.index_select(0, t)).sum().item<int64_t>();
      right[1] += logits.colour.argmax(1).cpu().eq(test_labels.colour.index_select(0, t)).sum().item<int64_t>();
      right[2] += logits.print.argmax(1).cpu().eq(test_labels.print.index_select(0, t)).sum().item<int64_t>();
    }
    return Metrics{{"val_loss", loss / double(n)},
                   {"val_category_acc", double(right[0]) / double(n)},
                   {"val_colour_acc", double(right[1]) / double(n)},
                   {"val_print_acc", double(right[2]) / double(n)}};
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
