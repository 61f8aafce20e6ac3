#include "train/distributed.h"

#include <torch/autograd.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef COUTURE_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "core/error.h"
#include "core/log.h"

namespace couture {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  COUTURE_CHECK_INPUT(end && *end == '\0' && x >= 0 && x < (1 << 30), "environment variable ", name, "='", v,
                      "' is not a non-negative integer");
  return int(x);
}

}  // namespace

bool nccl_available() {
#ifdef COUTURE_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::optional<DistributedOptions> distributed_from_env(c10::Device device) {
  int world = env_int("WORLD_SIZE", 1);
  if (world <= 1) return std::nullopt;
  DistributedOptions o;
  o.world_size = world;
  o.rank = env_int("RANK", -1);
  COUTURE_CHECK_INPUT(o.rank >= 0 && o.rank < world, "RANK must be set to 0..", world - 1, " when WORLD_SIZE=", world);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) o.master_addr = addr;
  o.master_port = env_int("MASTER_PORT", 29500);
  COUTURE_CHECK_INPUT(o.master_port > 0 && o.master_port < 65536, "MASTER_PORT must be a TCP port");
  o.timeout = std::chrono::seconds(env_int("COUTURE_DIST_TIMEOUT", 300));
  o.device = device;
  o.backend = device.is_cuda() && nccl_available() ? "nccl" : "gloo";
  if (const char* b = std::getenv("COUTURE_DIST_BACKEND"); b && *b) o.backend = b;
  COUTURE_CHECK_INPUT(o.backend == "gloo" || o.backend == "nccl", "COUTURE_DIST_BACKEND='", o.backend,
                      "': expected gloo or nccl");
  COUTURE_CHECK_INPUT(o.backend == "gloo" || nccl_available(), "COUTURE_DIST_BACKEND=nccl: this LibTorch was built ",
                      "without CUDA/NCCL (use gloo, or build against a CUDA LibTorch: docs/distributed.md)");
  COUTURE_CHECK_INPUT(o.backend == "gloo" || device.is_cuda(), "COUTURE_DIST_BACKEND=nccl needs --device cuda[:N]");
  return o;
}

struct Distributed::Impl {
  DistributedOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  double seconds = 0;  // spent in collectives

  // Small tensors for scalar collectives live where the backend can reach them (NCCL: the GPU only).
  at::TensorOptions scalar_options(at::ScalarType dtype) const {
    return at::TensorOptions().dtype(dtype).device(options.backend == "nccl" ? options.device : c10::Device(c10::kCPU));
  }

  // Runs a collective and waits with the timeout, turning a peer's death or silence into one clear error.
  void run(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    const auto began = std::chrono::steady_clock::now();
    try {
      auto work = start();
      work->wait(std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout));
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    } catch (const std::exception& e) {
      std::string why = e.what();
      why = why.substr(0, why.find('\n'));
      throw Error("distributed training, rank " + std::to_string(options.rank) + " of " +
                  std::to_string(options.world_size) + ": " + what + " failed (another rank died, hung for more than " +
                  std::to_string(options.timeout.count()) + " s, or the network failed): " + why);
    }
  }
};

Distributed::Distributed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Distributed::~Distributed() = default;

std::shared_ptr<Distributed> Distributed::connect(const DistributedOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = uint16_t(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = size_t(options.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    if (options.backend == "nccl") {
#ifdef COUTURE_WITH_NCCL
      // NCCL enforces the timeout only in blocking-wait mode; without it a dead peer hangs the others forever.
      setenv("NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
      auto group_options = c10d::ProcessGroupNCCL::Options::create();
      group_options->timeout = timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, options.rank, options.world_size,
                                                                 group_options);
#else
      throw InputError("backend nccl: this LibTorch was built without CUDA/NCCL (use gloo)");
#endif
    } else {
      auto group_options = c10d::ProcessGroupGloo::Options::create(timeout);
      group_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      group_options->threads = 2;
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, options.rank, options.world_size,
                                                                  group_options);
    }
  } catch (const std::exception& e) {
    std::string why = e.what();
    throw Error("distributed training: rank " + std::to_string(options.rank) + " could not join " +
                options.master_addr + ":" + std::to_string(options.master_port) + " (world size " +
                std::to_string(options.world_size) + ") within " + std::to_string(options.timeout.count()) +
                " s: " + why.substr(0, why.find('\n')));
  }
  log::info("distributed: rank " + std::to_string(options.rank) + " of " + std::to_string(options.world_size) +
            " (" + options.backend + ", " + options.device.str() + ") joined " + options.master_addr + ":" +
            std::to_string(options.master_port));
  return std::shared_ptr<Distributed>(new Distributed(std::move(impl)));
}

int Distributed::rank() const { return impl_->options.rank; }
int Distributed::world_size() const { return impl_->options.world_size; }

void Distributed::average_gradients(torch::nn::Module& module, double bucket_mb) {
  std::vector<at::Tensor> grads;
  for (auto& p : module.parameters(true))
    if (p.grad().defined()) grads.push_back(p.grad());
  const int64_t bucket_bytes = int64_t(bucket_mb * 1024 * 1024);
  size_t i = 0;
  while (i < grads.size()) {
    // One bucket: consecutive gradients of one dtype up to bucket_bytes.
    std::vector<at::Tensor> bucket{grads[i]};
    int64_t bytes = grads[i].numel() * grads[i].element_size();
    size_t j = i + 1;
    for (; j < grads.size() && grads[j].scalar_type() == grads[i].scalar_type() &&
           bytes + grads[j].numel() * grads[j].element_size() <= bucket_bytes;
         ++j) {
      bucket.push_back(grads[j]);
      bytes += grads[j].numel() * grads[j].element_size();
    }
    std::vector<at::Tensor> flat{torch::cat([&] {
      std::vector<at::Tensor> views;
      for (auto& g : bucket) views.push_back(g.reshape(-1));
      return views;
    }())};
    impl_->run("gradient all-reduce", [&] { return impl_->group->allreduce(flat); });
    flat[0].div_(world_size());
    int64_t offset = 0;
    for (auto& g : bucket) {
      g.copy_(flat[0].narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
    i = j;
  }
}

void Distributed::broadcast_module(torch::nn::Module& module, torch::optim::Optimizer* optimizer) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  for (auto& p : module.parameters(true)) tensors.push_back(p);
  for (auto& b : module.buffers(true)) tensors.push_back(b);
  if (optimizer) {
    // Every rank must hold a state for the same parameters: create zero states where rank 0 has one.
    auto& states = optimizer->state();
    const bool adamw = dynamic_cast<torch::optim::AdamW*>(optimizer) != nullptr;
    for (auto& p : module.parameters(true)) {
      std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      int64_t has = broadcast_int(states.count(key) ? 1 : 0);
      if (!has) continue;
      if (!states.count(key)) {
        if (adamw) {
          auto s = std::make_unique<torch::optim::AdamWParamState>();
          s->exp_avg(torch::zeros_like(p)), s->exp_avg_sq(torch::zeros_like(p));
          states[key] = std::move(s);
        } else {
          auto s = std::make_unique<torch::optim::AdamParamState>();
          s->exp_avg(torch::zeros_like(p)), s->exp_avg_sq(torch::zeros_like(p));
          states[key] = std::move(s);
        }
      }
      if (auto* s = dynamic_cast<torch::optim::AdamWParamState*>(states[key].get())) {
        s->step(broadcast_int(s->step()));
        tensors.push_back(s->exp_avg()), tensors.push_back(s->exp_avg_sq());
      } else if (auto* s2 = dynamic_cast<torch::optim::AdamParamState*>(states[key].get())) {
        s2->step(broadcast_int(s2->step()));
        tensors.push_back(s2->exp_avg()), tensors.push_back(s2->exp_avg_sq());
      }
    }
  }
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    impl_->run("broadcast from rank 0", [&] { return impl_->group->broadcast(one); });
  }
}

// Forward: all-gather. Backward: every rank holds the gradient of its own (identical) loss with respect to the whole
// gathered batch; their sum, cut to this rank's rows, is this rank's share of the global batch's gradient.
struct DistributedAllGather : torch::autograd::Function<DistributedAllGather> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& local, Distributed* dist) {
    ctx->saved_data["dist"] = int64_t(reinterpret_cast<intptr_t>(dist));
    ctx->saved_data["rows"] = local.size(0);
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < dist->world_size(); ++r) out[0].push_back(at::empty_like(local, at::MemoryFormat::Contiguous));
    std::vector<at::Tensor> in{local.contiguous()};
    dist->impl_->run("all-gather", [&] { return dist->impl_->group->allgather(out, in); });
    return at::cat(out[0], 0);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* dist = reinterpret_cast<Distributed*>(intptr_t(ctx->saved_data["dist"].toInt()));
    std::vector<at::Tensor> one{grads[0].contiguous()};
    dist->impl_->run("all-gather gradient all-reduce", [&] { return dist->impl_->group->allreduce(one); });
    const int64_t rows = ctx->saved_data["rows"].toInt();
    return {one[0].narrow(0, dist->rank() * rows, rows), at::Tensor()};
  }
};

at::Tensor Distributed::all_gather(const at::Tensor& local) { return DistributedAllGather::apply(local, this); }

int64_t Distributed::broadcast_int(int64_t value) {
  std::vector<at::Tensor> one{torch::tensor({value}, impl_->scalar_options(torch::kLong))};
  impl_->run("broadcast from rank 0", [&] { return impl_->group->broadcast(one); });
  return one[0].item<int64_t>();
}

double Distributed::mean(double value) { return mean(std::vector<double>{value})[0]; }

std::vector<double> Distributed::mean(const std::vector<double>& values) {
  if (values.empty()) return {};
  std::vector<at::Tensor> one{torch::tensor(values, impl_->scalar_options(torch::kDouble))};
  impl_->run("metric all-reduce", [&] { return impl_->group->allreduce(one); });
  auto sums = one[0].cpu();
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = sums[int64_t(i)].item<double>() / world_size();
  return out;
}

double Distributed::collective_seconds() const { return impl_->seconds; }

void Distributed::barrier() {
  impl_->run("barrier", [&] { return impl_->group->barrier(); });
}

}  // namespace couture
