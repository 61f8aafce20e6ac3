// Saving and restoring everything a training run needs to continue bit-for-bit: named modules (weights and
// buffers), their Adam/AdamW optimizer states by parameter name, and LibTorch's CPU generator state.
#pragma once
#include <ATen/core/Generator.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace couture {

// What a run checkpoints: modules by file stem ("model" -> model.safetensors) and optimizers over them.
struct TrainingState {
  struct Part {
    std::string name;              // "model", "discriminator"...
    torch::nn::Module* module;
    torch::optim::Optimizer* optimizer;  // may be null; must be torch::optim::Adam or AdamW
    std::map<std::string, std::string> metadata;  // e.g. {"config": json, "preset": ...} for the weights file
    bool optional = false;  // a checkpoint without it (made before it existed) leaves the module as it is
  };
  std::vector<Part> parts;
  // The run's own generators besides LibTorch's default one (e.g. for dead-code re-initialisation), by name: saved
  // beside it in rng.safetensors, so that a resumed run draws what an uninterrupted one would.
  std::vector<std::pair<std::string, at::Generator>> generators = {};
};

std::filesystem::path save_training_state(const std::filesystem::path& run_dir, int64_t step,
                                          const TrainingState& state, const nlohmann::json& extra,
                                          const SaveCheckpointOptions& options = {});

// Restores the newest valid checkpoint into `state` (falling back past damaged ones); returns its state.json, or
// nullopt when the run has none. A checkpoint that does not fit the modules is an error naming the tensor.
// Temporary folders that a killed run left half-written under RUN/checkpoints are removed first.
std::optional<nlohmann::json> restore_training_state(const std::filesystem::path& run_dir, const TrainingState& state);

}  // namespace couture
