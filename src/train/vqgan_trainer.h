// `couture train vqgan`: taming's VQGAN recipe (L1 + perceptual + hinge PatchGAN with the adaptive weight, Adam
// betas 0.5/0.9) with codebook care: usage and perplexity logged, dead codes re-initialised from recent encoder
// outputs, optional k-means initialisation. `--vqvae` drops the perceptual and GAN terms (the original team's
// VQ-VAE baseline); `--decoder-of` fine-tunes the decoder of a finished tokenizer alone. Writes
// RUN/vqgan.safetensors (weights + config) at the end.
#pragma once
#include <optional>
#include <string>

#include "train/settings.h"

namespace couture {

struct VQGanTrainOptions {
  TrainSettings settings;
  std::string preset = "fmnist";
  std::optional<std::filesystem::path> config;  // a JSON config instead of the preset
  bool vqvae = false;
  // "auto": LPIPS weights at --lpips if given, else a features network at --features if given, else none.
  std::optional<std::filesystem::path> lpips, features;
  double perceptual_weight = 1.0;
  double l2_weight = 0.0;  // squared error beside L1
  double colour_weight = 0.0;  // L1 in CIELAB beside L1 in RGB
  int64_t disc_start = -1;  // -1: a third of the steps
  double disc_weight = 0.2;
  double codebook_weight = 1.0;
  bool kmeans_init = false;
  int64_t reinit_every = 100;     // dead-code re-initialisation cadence (0: never)
  double reinit_until = 0.8;      // ... during this fraction of the run
  // Fine-tune only the decoder of this tokenizer (a run folder or vqgan.safetensors): its encoder and codebook are
  // loaded and frozen, so every image keeps its codes and a DALL-E trained on them stays valid with the new decoder.
  std::optional<std::filesystem::path> decoder_of;
};

void train_vqgan(const VQGanTrainOptions& options);

}  // namespace couture
