#include "train/attribute_trainer.h"

#include "core/error.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "nn/tensor_io.h"
#include "train/sharding.h"

namespace couture {

void train_attribute_classifier(const TrainSettings& settings, const AttributeTrainSpec& spec) {
  const auto device = parse_device(settings.device);
  auto dist = join_distributed_from_env(device);
  Dataset train = Dataset::open(settings.dataset, "train"), test = Dataset::open(settings.dataset, "test");
  AttributeLabels labels = read_attribute_labels(train, nullptr);
  AttributeLabels test_labels = read_attribute_labels(test, &labels.classes);
  COUTURE_CHECK_INPUT(labels.classes.categories.size() > 1 && labels.classes.colours.size() > 1,
                      "dataset '", settings.dataset.string(), "': needs at least two categories and colours");

  torch::manual_seed(settings.seed);
  AttributeNetwork net = spec.build(labels.classes, train);
  write_run_info(settings, spec.command, net.model_json, dist.get());
  net.module->to(device);
  torch::optim::AdamW opt(net.module->parameters(),
                          torch::optim::AdamWOptions(settings.lr).weight_decay(spec.weight_decay));
  std::map<std::string, std::string> metadata = {{"format", spec.format}, {"config", net.model_json.dump()}};
  TrainingState state{{{"model", net.module.get(), &opt, metadata}}};
  const int rank = dist ? dist->rank() : 0;
  ShardedSampler sampler(train.size(), settings.batch, settings.seed, rank, dist ? dist->world_size() : 1);

  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    for (auto& g : opt.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(
          warmup_cosine(step - 1, settings.warmup, settings.steps, settings.lr));
    net.module->train();
    auto idx = sampler.batch(step);
    auto x = images_to_tensor(train, idx);
    if (spec.augment) x = spec.augment(x, settings.seed, step, rank);
    auto loss = attribute_loss(net.forward(x.to(device)), labels, torch::tensor(idx, torch::kLong));
    loss.backward();
    apply_gradients(*net.module, opt, 1.0, dist.get());
    return Metrics{{"loss", loss.item<double>()}};
  };
  hooks.validate = [&](int64_t) {
    net.module->eval();
    return evaluate_attributes(net.forward, test, test_labels, 2000, device).metrics();
  };
  const int64_t steps_done = run_training_loop(loop_options(settings, spec.command, dist), state, hooks);
  if (dist && !dist->is_main()) return;

  std::string summary;
  if (spec.final_test) {
    net.module->eval();
    auto final = evaluate_attributes(net.forward, test, test_labels, 0, device);
    nlohmann::json info = {{"dataset", settings.dataset.string()}, {"steps", steps_done},
                           {"test_records", final.hits.n}, {"test_accuracy", final.hits.to_json()}};
    metadata["info"] = info.dump();
    summary = "test accuracy (" + std::to_string(final.hits.n) + " real images) " + final.hits.to_json().dump() + "; ";
  }
  save_tensors(settings.out / spec.file, state_dict(*net.module), metadata);
  log::info(spec.command + ": " + summary + "wrote " + (settings.out / spec.file).string());
}

}  // namespace couture
