// `couture train clip`: KoCLIP's recipe (KoDALLE clip/train_clip.py): symmetric contrastive loss over a batch of
// (caption, image) pairs, AdamW with weight decay 0.2 and betas 0.9/0.98, eps 1e-6, separate learning rates for the
// towers and the projections, here with linear warm-up and cosine decay. Captions are each record's full caption
// (captions[0]), or with --caption varied drawn as designers write; with --hard-negatives each image must also rank
// its caption above copies that differ in one attribute (category, colour or print), the distinctions the reranker
// is there to make. Images get geometry-only garment augmentation. Validation on the test split: loss and text->image
// recall@1 in batches of 100. Writes RUN/clip.safetensors (weights + config) and RUN/vocab.txt at the end.
#pragma once
#include <filesystem>
#include <string>

#include "train/settings.h"

namespace couture {

struct ClipTrainOptions {
  TrainSettings settings;  // steps/batch/lr/warmup <= 0 take the preset's defaults (clip_train_defaults)
  std::string preset = "fmnist";
  std::filesystem::path vocab;  // vocab.txt, tokenizer.json or a folder holding one
  std::string loss = "clip";    // clip | kodalle
  double projection_lr = 0;     // 0: the preset's ratio to --lr (kodalle 5e-5 / 4e-5; otherwise equal)
  double weight_decay = 0.2;    // on weights of rank >= 2 only (not biases, norms, embeddings' LayerNorms, scale)
  double grad_clip = 1.0;       // gradient-norm clipping (0: none)
  int64_t val_records = 1000;   // test records used by each validation (in batches of 100)
  std::string caption = "full";  // full, short, both or varied (data/training_captions.h)
  // Hard negatives per image: the image's caption with its category, colour or print changed (drawn per record and
  // step), which every image must rank below its own caption. 0: the batch's other captions only.
  int64_t hard_negatives = 0;
  // > 0: an auxiliary loss, weighted so, in which the image embedding predicts the image's labelled category, colour
  // and print through linear heads (training only: checkpointed, never in clip.safetensors). Contrast alone lets
  // the image tower tell captions apart by colour and print and never learn the garment's shape.
  double attribute_weight = 0;
  // A clip.safetensors (a run's, or a bundle's) to start from instead of a fresh initialisation: fine-tuning, e.g.
  // on images through the bundle's VQGAN (`couture vqgan recon --dataset`). Its config must be the preset's with
  // this vocabulary. A resumed run continues from its checkpoint instead.
  std::filesystem::path init_from;
};

// The defaults of a preset: steps, batch, lr, warm-up (docs/clip.md says why).
struct ClipTrainDefaults {
  int64_t steps, batch;
  double lr, projection_lr;
  int64_t warmup;
};
ClipTrainDefaults clip_train_defaults(const std::string& preset);

void train_clip(const ClipTrainOptions& options);

}  // namespace couture
