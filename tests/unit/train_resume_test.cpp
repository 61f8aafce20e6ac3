// Resuming after N steps gives the same weights as an uninterrupted 2N-step run (model, Adam/AdamW state and the
// generator all restored); a damaged newest checkpoint falls back to the one before.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/log.h"
#include "support/temp_dir.h"
#include "train/loop.h"

using namespace couture;
using couture::testing::TempDir;

namespace {

struct Tiny : torch::nn::Module {
  torch::nn::Linear a{nullptr}, b{nullptr};
  torch::nn::BatchNorm1d norm{nullptr};
  Tiny() {
    a = register_module("a", torch::nn::Linear(4, 8));
    norm = register_module("norm", torch::nn::BatchNorm1d(8));
    b = register_module("b", torch::nn::Linear(8, 1));
  }
  torch::Tensor forward(torch::Tensor x) { return b(torch::relu(norm(a(x)))); }
};

// Trains to `steps`, resuming from whatever checkpoint run_dir holds. Data and dropout draw from the global
// generator, so a resume that forgot the generator state would diverge.
at::Tensor train(const std::filesystem::path& run_dir, int64_t steps, bool adamw) {
  torch::manual_seed(1);
  Tiny model;
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (adamw)
    opt = std::make_unique<torch::optim::AdamW>(model.parameters(), torch::optim::AdamWOptions(1e-2));
  else
    opt = std::make_unique<torch::optim::Adam>(model.parameters(), torch::optim::AdamOptions(1e-2));
  TrainingState state{{{"model", &model, opt.get(), {{"config", "{}"}}}}};
  LoopOptions options;
  options.run_dir = run_dir;
  options.steps = steps;
  options.checkpoint_every = 4;
  options.log_every = 1;
  LoopHooks hooks;
  hooks.step = [&](int64_t) {
    auto x = torch::randn({16, 4});
    auto y = x.sum(1, true) + 0.1 * torch::randn({16, 1});
    auto loss = torch::mse_loss(torch::dropout(model.forward(x), 0.1, true), y);
    opt->zero_grad();
    loss.backward();
    opt->step();
    return Metrics{{"loss", loss.item<double>()}};
  };
  run_training_loop(options, state, hooks);
  return torch::cat({model.a->weight.flatten(), model.b->weight.flatten(), model.norm->running_mean});
}

TEST(TrainResume, ResumedRunEqualsUninterruptedRun) {
  log::set_quiet(true);
  for (bool adamw : {false, true}) {
    TempDir straight, resumed;
    auto full = train(straight.path(), 16, adamw);
    train(resumed.path(), 8, adamw);
    auto continued = train(resumed.path(), 16, adamw);
    double diff = (full - continued).abs().max().item<double>();
    std::printf("%s: max |uninterrupted - resumed| = %g\n", adamw ? "AdamW" : "Adam", diff);
    EXPECT_EQ(diff, 0.0);
    // the metrics log continues without gaps or repeats
    std::ifstream in(resumed / "metrics.jsonl");
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    EXPECT_EQ(lines, 16);
    EXPECT_TRUE(std::filesystem::exists(resumed / "loss.png"));
  }
}

TEST(TrainResume, DamagedNewestCheckpointFallsBack) {
  log::set_quiet(true);
  TempDir straight, resumed;
  auto full = train(straight.path(), 12, false);
  train(resumed.path(), 8, false);  // checkpoints at 4 and 8
  auto newest = resumed.path() / "checkpoints/step-000000008/model.safetensors";
  std::filesystem::resize_file(newest, std::filesystem::file_size(newest) / 2);
  auto continued = train(resumed.path(), 12, false);  // resumes from 4
  EXPECT_EQ((full - continued).abs().max().item<double>(), 0.0);
}

TEST(TrainResume, ScheduleWarmsUpThenDecays) {
  EXPECT_NEAR(warmup_cosine(0, 10, 100, 1.0), 0.1, 1e-12);
  EXPECT_NEAR(warmup_cosine(9, 10, 100, 1.0), 1.0, 1e-12);
  EXPECT_NEAR(warmup_cosine(100, 10, 100, 1.0, 0.1), 0.1, 1e-12);
  EXPECT_GT(warmup_cosine(40, 10, 100, 1.0), warmup_cosine(60, 10, 100, 1.0));
}

}  // namespace
