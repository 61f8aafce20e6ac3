// Settings every `couture train ...` shares (dataset, run folder, steps, batch, learning rate, seed, device,
// cadences), and the plumbing around them: the device, the distributed group from torchrun's environment, and
// RUN/run.json recording what made the run.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "train/loop.h"

namespace couture {

struct TrainSettings {
  std::filesystem::path dataset, out;
  int64_t steps = 2000;
  int64_t batch = 16;  // per rank
  double lr = 1e-4;
  int64_t warmup = 100;
  uint64_t seed = 0;
  std::string device = "cpu";  // cpu, cuda, cuda:N
  int64_t checkpoint_every = 500, log_every = 10, validate_every = 500, sample_every = 500;
  int keep_last = 3;
  bool resume = true;
  bool bf16 = false;  // bf16 autocast of the forward pass (weights, gradients and optimiser stay fp32); dalle only

  nlohmann::json to_json() const;
};

// "cpu", "cuda", "cuda:1": InputError when LibTorch has no such device here.
c10::Device parse_device(const std::string& name);

// bf16 autocast (CPU or CUDA) for the forward passes in its scope when enabled; off again, with its weight-copy
// cache cleared, at the end of the scope.
class Bf16Autocast {
 public:
  Bf16Autocast(bool enabled, c10::Device device);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_, cuda_;
};

// Joins the process group when started by torchrun (WORLD_SIZE > 1), else null.
std::shared_ptr<Distributed> join_distributed_from_env(c10::Device device);

// LoopOptions from the shared settings.
LoopOptions loop_options(const TrainSettings& settings, const std::string& label,
                         std::shared_ptr<Distributed> distributed);

// Writes RUN/run.json (command settings and the model's) on rank 0, refusing to resume a run made with another
// model config: a changed architecture would not load its checkpoints.
void write_run_info(const TrainSettings& settings, const std::string& command, const nlohmann::json& model_settings,
                    const Distributed* distributed);

}  // namespace couture
