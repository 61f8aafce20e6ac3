// couture train dalle: the DALL-E transformer on a dataset's captions and VQGAN codes (encoded first if needed).
#include "command.h"
#include "train/dalle_trainer.h"
#include "train_options.h"

COUTURE_COMMAND("train dalle", "Train the DALL-E transformer on captions and VQGAN codes (classifier-free guidance)") {
  static couture::DalleTrainOptions o;
  // fmnist defaults: a 5M-parameter model at batch 32 learns quickly at 4.5e-4 (docs/dalle.md, "Training").
  o.settings.steps = 6000, o.settings.batch = 32, o.settings.lr = 4.5e-4, o.settings.warmup = 200;
  couture::app::add_train_options(cmd, o.settings);
  cmd.add_option("--vqgan", o.vqgan, "A couture train vqgan run folder, or its vqgan.safetensors")->required();
  cmd.add_option("--vocab", o.vocab, "WordPiece vocab (couture vocab train output: vocab.txt or tokenizer.json)")
      ->required();
  cmd.add_option("--preset", o.preset, "Model preset: fmnist, kodalle or kodalle_v1_seq (sized to vocab and VQGAN)");
  cmd.add_option("--config", o.config, "A DALL-E config JSON instead of the preset (must agree with vocab and VQGAN)");
  cmd.add_option("--init-text", o.init_text, "Text embeddings from couture text import (safetensors)");
  cmd.add_option("--codes", o.codes, "Codes folder (default: DATASET/codes; encoded there when missing or stale)");
  couture::app::add_caption_option(cmd, o.caption);
  cmd.add_option("--null-caption-prob", o.null_caption_prob,
                 "Probability of an all-pad caption per sample (classifier-free guidance)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--weight-decay", o.weight_decay, "AdamW weight decay on matmul and embedding weights");
  cmd.add_option("--beta2", o.beta2, "AdamW beta2 (DALL-E's 0.96)");
  cmd.add_option("--clip", o.clip, "Gradient norm clip (0: off; the original's 0.5)");
  cmd.add_option("--encode-batch", o.encode_batch, "Images per batch when the dataset must be encoded first")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--sample-captions", o.sample_captions, "Test captions in each sample grid")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--bf16", o.settings.bf16,
               "bf16 autocast of the forward pass (weights, gradients and AdamW stay fp32; docs/dalle.md)");
  cmd.callback([] { couture::train_dalle(o); });
}
