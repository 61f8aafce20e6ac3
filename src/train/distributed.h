// Data-parallel training on LibTorch's own c10d: TCPStore rendezvous and a process group, Gloo on CPU, NCCL on CUDA
// devices when LibTorch was built with it (COUTURE_WITH_NCCL, set by CMake for a CUDA LibTorch). Gradients are
// averaged in flat buckets; every collective has a timeout, so a rank that dies or hangs makes the others stop with a
// clear error instead of waiting forever.
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
  std::string backend = "gloo";       // gloo | nccl (CUDA devices only)
  c10::Device device{c10::kCPU};      // where the model lives; NCCL's collectives run there
};

// Whether this build can use NCCL (a CUDA LibTorch with c10d's ProcessGroupNCCL).
bool nccl_available();

// From torchrun's variables (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, and COUTURE_DIST_TIMEOUT, seconds, and
// COUTURE_DIST_BACKEND, gloo|nccl: by default nccl on a CUDA device when available, else gloo); nullopt when
// WORLD_SIZE is unset or 1. Malformed values are an InputError naming the variable.
std::optional<DistributedOptions> distributed_from_env(c10::Device device = c10::Device(c10::kCPU));

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
  // Every rank's `local` ([b, ...], the same shape on every rank) concatenated in rank order: [world * b, ...].
  // Differentiable: the gradient that reaches this rank's slice is the sum over ranks of what each rank's loss sends
  // it, so a loss computed alike on every rank from the gathered batch (CLIP's contrastive loss over the global
  // batch) trains, after average_gradients, exactly as one process holding the whole batch would.
  at::Tensor all_gather(const at::Tensor& local);
  int64_t broadcast_int(int64_t value);  // rank 0's value
  double mean(double value);             // average of a scalar over ranks
  std::vector<double> mean(const std::vector<double>& values);  // element-wise, in one all-reduce
  void barrier();
  // Seconds this process has spent in collectives so far (waiting for slower ranks included).
  double collective_seconds() const;

 private:
  friend struct DistributedAllGather;
  struct Impl;
  explicit Distributed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace couture
