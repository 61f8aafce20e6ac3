// couture train clip: the KoCLIP reranker (contrastive text-image training).
#include "command.h"
#include "train/clip_trainer.h"
#include "train_options.h"

COUTURE_COMMAND("train clip", "Train the CLIP reranker (KoCLIP: EfficientNet image tower, RoBERTa text tower)") {
  static couture::ClipTrainOptions o;
  // Zero (or -1 for the warm-up): the preset's value, see `couture::clip_train_defaults` and docs/clip.md.
  o.settings.steps = 0, o.settings.batch = 0, o.settings.lr = 0, o.settings.warmup = -1;
  o.settings.validate_every = 200, o.settings.checkpoint_every = 200;
  couture::app::add_train_options(cmd, o.settings);
  cmd.get_option("--steps")->description("Optimisation steps (0: the preset's: fmnist 1200, kodalle 20000)");
  cmd.get_option("--batch")->description("Batch size per rank (0: the preset's: fmnist 64, kodalle 32)");
  cmd.get_option("--lr")->description("Peak learning rate of the towers (0: the preset's: fmnist 5e-4, kodalle 4e-5)");
  cmd.get_option("--warmup")->description("Warm-up steps, then cosine decay (-1: the preset's: fmnist 100, kodalle 500)");
  cmd.add_option("--vocab", o.vocab, "WordPiece vocabulary (vocab.txt, tokenizer.json or a folder)")->required();
  cmd.add_option("--preset", o.preset, "Model preset: fmnist (64 px, small towers), kodalle (224 px, B0 + roberta-base) "
                 "or tiny (tests)");
  cmd.add_option("--loss", o.loss, "clip (normalised, learnable temperature) or kodalle (the original's)")
      ->check(CLI::IsMember({"clip", "kodalle"}));
  cmd.add_option("--projection-lr", o.projection_lr, "Peak learning rate of the projections (0: the preset's ratio)");
  cmd.add_option("--weight-decay", o.weight_decay, "AdamW weight decay (weights only, not biases or norms)");
  cmd.add_option("--grad-clip", o.grad_clip, "Gradient-norm clipping (0: none)");
  cmd.add_option("--val-records", o.val_records, "Test records per validation (batches of 100)");
  couture::app::add_caption_option(cmd, o.caption);
  cmd.add_option("--hard-negatives", o.hard_negatives,
                 "Captions per image that differ from its own in one attribute (category, colour or print), 0-8")
      ->check(CLI::Range(0, 8));
  cmd.add_option("--init-from", o.init_from,
                 "clip.safetensors to fine-tune (a run's or a bundle's) instead of starting from scratch");
  cmd.add_option("--attribute-weight", o.attribute_weight,
                 "Weight of an auxiliary loss: the image embedding predicts the labelled category, colour and print "
                 "(0: off)")
      ->check(CLI::NonNegativeNumber);
  cmd.callback([] { couture::train_clip(o); });
}
