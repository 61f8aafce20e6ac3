// Data-parallel training on LibTorch's own c10d: TCPStore rendezvous and a Gloo process group (NCCL is the drop-in
// for CUDA builds). Gradients are averaged in flat buckets; every collective has a timeout, so a rank that dies or
// hangs makes the others stop with a clear error instead of waiting forever.
#pragma once
#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace couture {

struct DistributedOptions {
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int rank = 0;
  int world_size = 1;
  std::chrono::seconds timeout{300};  // rendezvous and every collective
};

// From torchrun's variables (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE); nullopt when WORLD_SIZE is unset or 1.
// Malformed values are an InputError naming the variable.
std::optional<DistributedOptions> distributed_from_env();

class Distributed {
 public:
  static std::shared_ptr<Distributed> connect(const DistributedOptions& options);
  ~Distributed();

  int rank() const;
  int world_size() const;
  bool is_main() const { return rank() == 0; }

  // Averages the gradients of `module` over all ranks (flat buckets of ~bucket_mb MB).
  void average_gradients(torch::nn::Module& module, double bucket_mb = 25);
  // Copies rank 0's parameters and buffers (and Adam/AdamW state, when given) to every rank.
  void broadcast_module(torch::nn::Module& module, torch::optim::Optimizer* optimizer = nullptr);
  int64_t broadcast_int(int64_t value);  // rank 0's value
  double mean(double value);             // average of a scalar over ranks (for logged metrics)
  void barrier();

 private:
  struct Impl;
  explicit Distributed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace couture
