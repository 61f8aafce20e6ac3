// `couture train dalle`: the DALL-E transformer on a prepared dataset's captions and its VQGAN codes (encoded once
// into D/codes, see data/code_shards.h). AdamW with warm-up + cosine, gradient clipping at 0.5 (the original's),
// null captions for classifier-free guidance, validation loss on the test split, sample grids for fixed test
// captions. Writes RUN/dalle.safetensors (weights + config, the vocab's hash and the VQGAN's fingerprint in its
// metadata) and RUN/vocab.txt at the end, so the run folder is usable by itself.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "train/settings.h"

namespace couture {

struct DalleTrainOptions {
  TrainSettings settings;
  std::filesystem::path vqgan;  // run folder or vqgan.safetensors
  std::filesystem::path vocab;  // vocab.txt / tokenizer.json (couture vocab train)
  std::string preset = "fmnist";
  std::optional<std::filesystem::path> config;     // a DalleConfig JSON instead of the preset
  std::optional<std::filesystem::path> init_text;  // `couture text import` output
  std::optional<std::filesystem::path> codes;      // default: dataset/codes
  std::string caption = "full";  // full (captions[0]), short (captions[1]), both (drawn) or varied (lexicon)
  double null_caption_prob = 0.1;
  double weight_decay = 0.045;  // on matmul and embedding weights only
  double beta2 = 0.96;
  double clip = 0.5;
  int64_t encode_batch = 64;
  int64_t sample_captions = 8;
};

void train_dalle(const DalleTrainOptions& options);

// Safetensors metadata of a trained model: {"format": "couture-dalle", "config": JSON, "vocab_hash",
// "vqgan_fingerprint"} (the last two may be empty).
std::map<std::string, std::string> dalle_metadata(const nlohmann::json& config, const std::string& vocab_hash,
                                                  const std::string& vqgan_fingerprint);

}  // namespace couture
