#include "io/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace couture {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "step-";

std::string folder_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%09lld", kPrefix, (long long)step);
  return buf;
}

std::optional<int64_t> step_of(const fs::path& dir) {
  std::string name = dir.filename().string();
  if (name.rfind(kPrefix, 0) != 0 || name.size() <= 5) return std::nullopt;
  std::string digits = name.substr(5);
  if (!std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 18) return std::nullopt;
  return std::stoll(digits);
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

// Keeps the newest `keep_last` and the one with the lowest metric.
void prune(const fs::path& root, int keep_last) {
  auto all = list_checkpoints(root);
  if (int(all.size()) <= keep_last) return;
  std::optional<fs::path> best;
  double best_metric = 0;
  for (const auto& dir : all) {
    const auto state = read_json_file_or_null(dir / "state.json");
    if (state.is_object() && state.contains("metric") && state["metric"].is_number()) {
      const double m = state["metric"].get<double>();
      if (!best || m < best_metric) best = dir, best_metric = m;
    }
  }
  // Each pruned folder is first renamed out of the step-* names (an atomic rename), then removed: a run killed
  // half-way through a removal leaves a .old-* folder (removed when the run resumes), never a half-empty step-*.
  for (size_t i = 0; i + keep_last < all.size(); ++i) {
    if (best && all[i] == *best) continue;
    const fs::path old = all[i].parent_path() / (".old-" + all[i].filename().string() + "-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::rename(all[i], old, ec);
    remove_quietly(ec ? all[i] : old);
  }
}

}  // namespace

fs::path save_checkpoint(const fs::path& run_dir, int64_t step, const std::vector<CheckpointFile>& files,
                         const nlohmann::json& state, const SaveCheckpointOptions& options) {
  for (const auto& file : files)
    for (const auto& t : file.tensors)
      COUTURE_CHECK(all_finite(t), "refusing to save the checkpoint of step ", step, ": tensor '", t.name, "' in ",
                    file.name, " holds non-finite values (NaN or Inf)");
  const fs::path root = run_dir / "checkpoints";
  std::error_code ec;
  fs::create_directories(root, ec);
  COUTURE_CHECK(!ec, "cannot create checkpoint folder '", root.string(), "': ", ec.message());
  const fs::path final_dir = root / folder_name(step);
  std::random_device rd;
  const fs::path tmp = root / (".tmp-" + folder_name(step) + "-" + std::to_string(::getpid()) + "-" +
                               std::to_string(rd() % 1000000));
  try {
    fs::create_directories(tmp);
    nlohmann::json names = nlohmann::json::array();
    for (const auto& file : files) {
      auto metadata = file.metadata;
      metadata["format"] = "couture-checkpoint";
      metadata["format_version"] = std::to_string(kCheckpointFormatVersion);
      metadata["step"] = std::to_string(step);
      write_safetensors(tmp / file.name, file.tensors, metadata);
      names.push_back(file.name);
    }
    nlohmann::json full = state;
    full["format_version"] = kCheckpointFormatVersion;
    full["step"] = step;
    full["files"] = names;
    if (options.metric) full["metric"] = *options.metric;
    write_file_atomic(tmp / "state.json", full.dump(2) + "\n");
    fsync_directory(tmp);
    if (fs::exists(final_dir)) {
      fs::path old = root / (".old-" + folder_name(step) + "-" + std::to_string(::getpid()));
      fs::rename(final_dir, old);
      remove_quietly(old);
    }
    fs::rename(tmp, final_dir);
    fsync_directory(root);
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw Error(std::string("saving checkpoint of step ") + std::to_string(step) + " under '" + root.string() +
                "': " + e.what());
  }
  prune(run_dir, std::max(1, options.keep_last));
  return final_dir;
}

std::vector<fs::path> list_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir / "checkpoints", ec))
    if (auto step = step_of(entry.path()); step && entry.is_directory()) found.emplace_back(*step, entry.path());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [step, path] : found) out.push_back(path);
  return out;
}

LoadedCheckpoint load_checkpoint(const fs::path& dir) {
  LoadedCheckpoint ck;
  ck.dir = dir;
  ck.state = read_json_file(dir / "state.json");
  COUTURE_CHECK_INPUT(ck.state.is_object() && ck.state.value("step", int64_t(-1)) >= 0 &&
                          ck.state.contains("files") && ck.state["files"].is_array(),
                      "checkpoint '", dir.string(), "': state.json lacks 'step' or 'files'");
  COUTURE_CHECK_INPUT(ck.state.value("format_version", 0) == kCheckpointFormatVersion, "checkpoint '", dir.string(),
                      "': format version ", ck.state.value("format_version", 0), ", this build reads ",
                      kCheckpointFormatVersion);
  ck.step = ck.state["step"].get<int64_t>();
  for (const auto& name : ck.state["files"]) {
    COUTURE_CHECK_INPUT(name.is_string(), "checkpoint '", dir.string(), "': 'files' holds a non-string");
    std::string file = name.get<std::string>();
    COUTURE_CHECK_INPUT(file.find('/') == std::string::npos && file.rfind("..", 0) != 0, "checkpoint '", dir.string(),
                        "': file name '", file, "' is not a plain name");
    ck.files.emplace(file, SafetensorsFile::open(dir / file));
  }
  return ck;
}

std::optional<LoadedCheckpoint> load_latest_checkpoint(const fs::path& run_dir) {
  auto all = list_checkpoints(run_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      return load_checkpoint(*it);
    } catch (const Error& e) {
      log::warn(std::string("skipping damaged checkpoint: ") + e.what());
    }
  }
  return std::nullopt;
}

}  // namespace couture
