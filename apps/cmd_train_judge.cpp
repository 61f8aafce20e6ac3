// couture train judge: the classifier that grades generated designs in `couture eval generate`.
#include "command.h"
#include "eval/judge_trainer.h"
#include "train_options.h"

COUTURE_COMMAND("train judge",
                "Train the evaluation's judge (category, colour and print from real images; not the reranker)") {
  static couture::TrainSettings s;
  static couture::JudgeConfig config;
  s.steps = 2000, s.batch = 64, s.lr = 2e-3, s.warmup = 50, s.validate_every = 500, s.sample_every = 0;
  couture::app::add_train_options(cmd, s);
  cmd.add_option("--stem-stride", config.stem_stride, "Stride of the first conv (2 halves the image first)")
      ->check(CLI::Range(1, 2));
  cmd.add_option("--widths", config.widths, "Channels of each stage (stage s > 0 halves the size)");
  cmd.add_option("--blocks", config.blocks, "Residual blocks per stage")->check(CLI::Range(1, 16));
  cmd.add_option("--dropout", config.dropout, "Dropout before the heads")->check(CLI::Range(0.0, 0.9));
  cmd.callback([] {
    couture::JudgeConfig::from_json(config.to_json());  // the same checks as a loaded config
    couture::train_judge(s, config);
  });
}
