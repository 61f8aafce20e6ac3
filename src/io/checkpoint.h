// Checkpoints: RUN/checkpoints/step-NNNNNNNNN/ holding safetensors files (model, optimizer, rng...) and state.json.
// A checkpoint is written into a temporary folder, every file fsynced, then the folder is renamed into place, so a
// crash leaves either the old set or the new one. Loading validates every file and falls back past damaged ones.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace couture {

constexpr int kCheckpointFormatVersion = 1;

struct CheckpointFile {
  std::string name;  // e.g. "model.safetensors"
  std::vector<TensorView> tensors;
  std::map<std::string, std::string> metadata;  // format, version and step are added on save
};

struct SaveCheckpointOptions {
  int keep_last = 3;              // newest K kept, plus the best by metric
  std::optional<double> metric;   // lower is better (e.g. validation loss)
};

// Refuses non-finite floating-point tensors. Returns the checkpoint folder.
std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, int64_t step,
                                      const std::vector<CheckpointFile>& files, const nlohmann::json& state,
                                      const SaveCheckpointOptions& options = {});

struct LoadedCheckpoint {
  std::filesystem::path dir;
  int64_t step = 0;
  nlohmann::json state;
  std::map<std::string, SafetensorsFile> files;
};

// Complete checkpoints, oldest first (folders only; not validated).
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);
// Validates one checkpoint folder; couture::InputError naming the folder and file otherwise.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& dir);
// The newest checkpoint that validates, warning about each damaged one skipped; nullopt when there is none.
std::optional<LoadedCheckpoint> load_latest_checkpoint(const std::filesystem::path& run_dir);

}  // namespace couture
