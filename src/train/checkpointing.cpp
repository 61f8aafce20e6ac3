#include "train/checkpointing.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"
#include "core/log.h"
#include "nn/tensor_io.h"

namespace couture {
namespace {

using torch::optim::AdamParamState;
using torch::optim::AdamWParamState;

std::string key_of(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

// Adam and AdamW keep the same four fields; handle both through one template.
template <typename S>
void export_state(S& s, const std::string& name, NamedTensors& out) {
  out.emplace_back(name + ".step", torch::tensor({s.step()}, torch::kLong));
  out.emplace_back(name + ".exp_avg", s.exp_avg());
  out.emplace_back(name + ".exp_avg_sq", s.exp_avg_sq());
  if (s.max_exp_avg_sq().defined()) out.emplace_back(name + ".max_exp_avg_sq", s.max_exp_avg_sq());
}

template <typename S>
std::unique_ptr<torch::optim::OptimizerParamState> import_state(const SafetensorsFile& f, const std::string& name) {
  auto s = std::make_unique<S>();
  s->step(load_tensor(f, name + ".step").item<int64_t>());
  s->exp_avg(load_tensor(f, name + ".exp_avg").clone());
  s->exp_avg_sq(load_tensor(f, name + ".exp_avg_sq").clone());
  if (f.find(name + ".max_exp_avg_sq")) s->max_exp_avg_sq(load_tensor(f, name + ".max_exp_avg_sq").clone());
  return s;
}

NamedTensors optimizer_tensors(torch::nn::Module& module, torch::optim::Optimizer& opt) {
  NamedTensors out;
  auto& states = opt.state();
  for (const auto& p : module.named_parameters(true)) {
    auto it = states.find(key_of(p.value()));
    if (it == states.end()) continue;  // not stepped yet
    if (auto* adamw = dynamic_cast<AdamWParamState*>(it->second.get()))
      export_state(*adamw, p.key(), out);
    else if (auto* adam = dynamic_cast<AdamParamState*>(it->second.get()))
      export_state(*adam, p.key(), out);
    else
      throw Error("checkpointing supports Adam and AdamW optimizer states only");
  }
  return out;
}

void restore_optimizer(torch::nn::Module& module, torch::optim::Optimizer& opt, const SafetensorsFile& file) {
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(&opt) != nullptr;
  auto& states = opt.state();
  states.clear();
  for (const auto& p : module.named_parameters(true)) {
    if (!file.find(p.key() + ".step")) continue;
    const auto& avg = file.at(p.key() + ".exp_avg");
    COUTURE_CHECK_INPUT(at::IntArrayRef(avg.shape) == p.value().sizes(), "'", file.source(),
                        "': optimizer state of '", p.key(), "' does not fit the parameter's shape");
    states[key_of(p.value())] = adamw ? import_state<AdamWParamState>(file, p.key())
                                      : import_state<AdamParamState>(file, p.key());
  }
}

// save_checkpoint writes into .tmp-* and moves a replaced folder to .old-* before removing it; a run killed
// meanwhile leaves them behind. Only this run writes here, so any found at its start are garbage.
void remove_stale_temporaries(const std::filesystem::path& checkpoints) {
  std::error_code ec;
  std::vector<std::filesystem::path> stale;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".tmp-", 0) == 0 || name.rfind(".old-", 0) == 0) stale.push_back(entry.path());
  }
  for (const auto& path : stale) std::filesystem::remove_all(path, ec);
}

}  // namespace

std::filesystem::path save_training_state(const std::filesystem::path& run_dir, int64_t step,
                                          const TrainingState& state, const nlohmann::json& extra,
                                          const SaveCheckpointOptions& options) {
  std::vector<NamedTensors> keep;  // owns the contiguous copies the views point into
  std::vector<CheckpointFile> files;
  for (const auto& part : state.parts) {
    keep.push_back(cpu_contiguous(state_dict(*part.module)));
    files.push_back({part.name + ".safetensors", views_of(keep.back()), part.metadata});
    if (part.optimizer) {
      keep.push_back(cpu_contiguous(optimizer_tensors(*part.module, *part.optimizer)));
      files.push_back({part.name + ".optimizer.safetensors", views_of(keep.back()), {}});
    }
  }
  NamedTensors rng{{"torch_cpu", at::detail::getDefaultCPUGenerator().get_state()}};
  for (const auto& [name, generator] : state.generators) rng.emplace_back("generator." + name, generator.get_state());
  keep.push_back(std::move(rng));
  files.push_back({"rng.safetensors", views_of(keep.back()), {}});
  return save_checkpoint(run_dir, step, files, extra, options);
}

std::optional<nlohmann::json> restore_training_state(const std::filesystem::path& run_dir,
                                                     const TrainingState& state) {
  remove_stale_temporaries(run_dir / "checkpoints");
  auto ck = load_latest_checkpoint(run_dir);
  if (!ck) return std::nullopt;
  auto file = [&](const std::string& name) -> const SafetensorsFile& {
    auto it = ck->files.find(name);
    COUTURE_CHECK_INPUT(it != ck->files.end(), "checkpoint '", ck->dir.string(), "' has no ", name);
    return it->second;
  };
  for (const auto& part : state.parts) {
    if (part.optional && !ck->files.count(part.name + ".safetensors")) {
      log::warn("checkpoint '" + ck->dir.string() + "' has no " + part.name + ".safetensors (made by an older " +
                "version): " + part.name + " starts afresh");
      continue;
    }
    load_state_dict(*part.module, file(part.name + ".safetensors"), part.name);
    if (part.optimizer) restore_optimizer(*part.module, *part.optimizer, file(part.name + ".optimizer.safetensors"));
  }
  const auto& rng = file("rng.safetensors");
  auto set_state = [&](at::Generator generator, const std::string& key) {
    auto saved = load_tensor(rng, key).clone();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(saved);
  };
  set_state(at::detail::getDefaultCPUGenerator(), "torch_cpu");
  for (const auto& [name, generator] : state.generators)
    if (rng.find("generator." + name)) set_state(generator, "generator." + name);  // absent in older checkpoints
  return ck->state;
}

}  // namespace couture
