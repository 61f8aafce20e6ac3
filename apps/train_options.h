// The command-line options every `couture train ...` shares, bound to TrainSettings.
#pragma once
#include <CLI/CLI.hpp>

#include "train/settings.h"

namespace couture::app {

inline void add_train_options(CLI::App& cmd, TrainSettings& s) {
  cmd.add_option("--dataset", s.dataset, "Prepared dataset folder (couture prepare)")->required();
  cmd.add_option("--out", s.out, "Run folder: checkpoints, metrics.jsonl, loss.png, samples")->required();
  cmd.add_option("--steps", s.steps, "Optimisation steps")->check(CLI::PositiveNumber);
  cmd.add_option("--batch", s.batch, "Batch size per rank")->check(CLI::PositiveNumber);
  cmd.add_option("--lr", s.lr, "Peak learning rate")->check(CLI::PositiveNumber);
  cmd.add_option("--warmup", s.warmup, "Warm-up steps (linear), then cosine decay")->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", s.seed, "Seed of initialisation, data order and sampling");
  cmd.add_option("--device", s.device, "cpu, cuda or cuda:N (where LibTorch has it)");
  cmd.add_option("--checkpoint-every", s.checkpoint_every, "Steps between checkpoints")->check(CLI::PositiveNumber);
  cmd.add_option("--log-every", s.log_every, "Steps between metrics lines")->check(CLI::PositiveNumber);
  cmd.add_option("--validate-every", s.validate_every, "Steps between validations (0: at the end)");
  cmd.add_option("--sample-every", s.sample_every, "Steps between sample pictures (0: at the end)");
  cmd.add_option("--keep", s.keep_last, "Checkpoints kept (plus the best)")->check(CLI::PositiveNumber);
  cmd.add_flag("!--restart", s.resume, "Start afresh instead of resuming from RUN's newest checkpoint");
}

// --caption of the trainers that read captions (data/training_captions.h).
inline void add_caption_option(CLI::App& cmd, std::string& caption) {
  cmd.add_option("--caption", caption,
                 "Caption form: full (captions[0]), short (captions[1]), both (drawn), or varied (drawn per step "
                 "as designers write, from the labels and the lexicon)")
      ->check(CLI::IsMember({"full", "short", "both", "varied"}));
}

}  // namespace couture::app
