// The training loop every `couture train ...` shares: resume from the newest complete checkpoint, progress bar,
// metrics JSONL, NaN guard, periodic validation, sample pictures and atomic checkpoints, a loss-curve PNG, and a
// clean stop (checkpoint first) on Ctrl-C or SIGTERM.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "train/checkpointing.h"
#include "train/distributed.h"

namespace couture {

using Metrics = std::map<std::string, double>;

struct LoopOptions {
  std::filesystem::path run_dir;
  int64_t steps = 1000;            // total optimisation steps
  int64_t checkpoint_every = 500;
  int64_t log_every = 10;          // metrics JSONL lines
  int64_t validate_every = 0;      // 0: at the end only
  int64_t sample_every = 0;        // 0: at the end only
  int keep_last = 3;
  bool resume = true;
  int max_bad_steps = 20;          // consecutive non-finite losses before the run stops
  std::string label = "train";
  // Data-parallel: rank 0 alone resumes, logs, samples and checkpoints; the others receive its weights at start.
  // The step hook averages gradients itself (distributed->average_gradients) between backward and the update.
  std::shared_ptr<Distributed> distributed;
};

struct LoopHooks {
  // One optimisation step (1-based). Returns metrics including "loss". A hook that sees a non-finite loss must skip
  // its update and return the loss as is: the loop counts it and stops after max_bad_steps in a row.
  std::function<Metrics(int64_t step)> step;
  std::function<Metrics(int64_t step)> validate;  // optional: e.g. {"val_loss": ...}; its "val_loss" picks the best
  std::function<void(int64_t step)> sample;       // optional: writes pictures under run_dir
  std::function<nlohmann::json()> extra_state;    // optional: saved into each checkpoint's state.json
};

// Runs from the resumed step to options.steps; returns the number of steps done in all.
int64_t run_training_loop(const LoopOptions& options, const TrainingState& state, const LoopHooks& hooks);

// The usual end of a step: average gradients over ranks (when distributed), clip their norm (clip <= 0: no
// clipping) and update, unless the gradients are not finite: then every rank skips the update alike and the
// returned norm is NaN. Returns the norm before clipping.
double apply_gradients(torch::nn::Module& module, torch::optim::Optimizer& optimizer, double clip,
                       Distributed* distributed);

// Reads RUN/metrics.jsonl and writes RUN/loss.png (every key containing "loss", log scale).
void write_loss_curve(const std::filesystem::path& run_dir, const std::string& title);

// Linear warm-up then cosine decay to min_ratio * base.
double warmup_cosine(int64_t step, int64_t warmup, int64_t total, double base, double min_ratio = 0.1);

}  // namespace couture
