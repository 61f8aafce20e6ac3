#include "train/settings.h"

#include <ATen/autocast_mode.h>

#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace couture {

nlohmann::json TrainSettings::to_json() const {
  return {{"dataset", dataset.string()}, {"out", out.string()},       {"steps", steps},
          {"batch", batch},              {"lr", lr},                  {"warmup", warmup},
          {"seed", seed},                {"device", device},          {"checkpoint_every", checkpoint_every},
          {"log_every", log_every},      {"validate_every", validate_every}, {"sample_every", sample_every},
          {"bf16", bf16}};
}

c10::Device parse_device(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const std::exception&) {
    throw InputError("--device '" + name + "': expected cpu, cuda or cuda:N");
  }
  if (device.is_cuda()) {
    COUTURE_CHECK_INPUT(torch::cuda::is_available(), "--device ", name,
                        ": this LibTorch has no CUDA device (Debian's LibTorch is CPU-only; build with an upstream "
                        "CUDA LibTorch through Torch_DIR, see docs/distributed.md)");
    COUTURE_CHECK_INPUT(!device.has_index() || device.index() < int(torch::cuda::device_count()), "--device ", name,
                        ": only ", torch::cuda::device_count(), " CUDA device(s) here");
  }
  COUTURE_CHECK_INPUT(device.is_cpu() || device.is_cuda(), "--device ", name, ": only cpu and cuda are supported");
  return device;
}

std::shared_ptr<Distributed> join_distributed_from_env(c10::Device device) {
  auto options = distributed_from_env(device);
  return options ? Distributed::connect(*options) : nullptr;
}

LoopOptions loop_options(const TrainSettings& s, const std::string& label, std::shared_ptr<Distributed> distributed) {
  LoopOptions o;
  o.run_dir = s.out;
  o.steps = s.steps;
  o.checkpoint_every = std::max<int64_t>(1, s.checkpoint_every);
  o.log_every = std::max<int64_t>(1, s.log_every);
  o.validate_every = s.validate_every;
  o.sample_every = s.sample_every;
  o.keep_last = s.keep_last;
  o.resume = s.resume;
  o.label = label;
  o.distributed = std::move(distributed);
  return o;
}

void write_run_info(const TrainSettings& settings, const std::string& command, const nlohmann::json& model_settings,
                    const Distributed* distributed) {
  if (distributed && !distributed->is_main()) return;
  const auto path = settings.out / "run.json";
  if (settings.resume && std::filesystem::exists(path)) {
    const nlohmann::json old = read_json_file_or_null(path);
    COUTURE_CHECK_INPUT(!old.is_object() || !old.contains("model") || old["model"] == model_settings, "'", path.string(),
                        "': this run was started with another model configuration; use a new --out folder");
  }
  nlohmann::json info = {{"command", command},
                         {"settings", settings.to_json()},
                         {"model", model_settings},
                         {"world_size", distributed ? distributed->world_size() : 1}};
  write_file_atomic(path, info.dump(2) + "\n");
}

Bf16Autocast::Bf16Autocast(bool enabled, c10::Device device) : enabled_(enabled), cuda_(device.is_cuda()) {
  if (!enabled_) return;
  if (cuda_) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_) return;
  if (cuda_) at::autocast::set_enabled(false);
  else at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();  // the bf16 copies of the weights belong to this forward pass only
}

}  // namespace couture
