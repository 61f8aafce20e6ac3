#include "train/loop.h"

#include <chrono>
#include <csignal>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/stable_hash.h"
#include "io/plot.h"

namespace couture {
namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void request_stop(int) { g_stop_requested = 1; }

// Drops metric lines past `step` (from a run that went further than its last checkpoint) so the curve continues.
void trim_metrics(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      auto j = nlohmann::json::parse(line);
      if (j.value("step", int64_t(0)) <= step) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // a line cut by a crash: dropped
    }
  }
  write_file_atomic(path, kept);
}

void append_metrics(const fs::path& path, int64_t step, const Metrics& metrics) {
  nlohmann::json j;
  j["step"] = step;
  for (const auto& [k, v] : metrics) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  std::ofstream out(path, std::ios::app);
  out << j.dump() << "\n";
}

std::string note_of(const Metrics& m) {
  std::ostringstream out;
  out.precision(4);
  for (const auto& [k, v] : m)
    if (k.find("loss") != std::string::npos) out << k << " " << v << " ";
  return out.str();
}

}  // namespace

double warmup_cosine(int64_t step, int64_t warmup, int64_t total, double base, double min_ratio) {
  if (warmup > 0 && step < warmup) return base * double(step + 1) / double(warmup);
  double progress = total > warmup ? double(step - warmup) / double(total - warmup) : 1.0;
  progress = std::clamp(progress, 0.0, 1.0);
  return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + std::cos(M_PI * progress)));
}

double apply_gradients(torch::nn::Module& module, torch::optim::Optimizer& optimizer, double clip,
                       Distributed* distributed) {
  if (distributed) distributed->average_gradients(module);
  auto params = module.parameters(true);
  double norm = torch::nn::utils::clip_grad_norm_(params, clip > 0 ? clip : std::numeric_limits<double>::infinity());
  if (std::isfinite(norm)) optimizer.step();
  optimizer.zero_grad();
  return std::isfinite(norm) ? norm : std::nan("");
}

void write_loss_curve(const fs::path& run_dir, const std::string& title) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::map<std::string, PlotSeries> series;
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      continue;
    }
    double step = j.value("step", 0.0);
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key().find("loss") != std::string::npos && it->is_number()) {
        auto& s = series[it.key()];
        s.name = it.key();
        s.x.push_back(step);
        s.y.push_back(it->get<double>());
      }
  }
  std::vector<PlotSeries> list;
  for (auto& [k, s] : series) list.push_back(std::move(s));
  PlotOptions options;
  options.title = title;
  options.log_y = true;
  write_png(run_dir / "loss.png", plot_lines(list, options));
}

int64_t run_training_loop(const LoopOptions& options, const TrainingState& state, const LoopHooks& hooks) {
  const auto& dist = options.distributed;
  const bool main_rank = !dist || dist->is_main();
  const fs::path metrics_path = options.run_dir / "metrics.jsonl";
  int64_t step = 0;
  if (main_rank) {
    fs::create_directories(options.run_dir);
    if (options.resume) {
      if (auto resumed = restore_training_state(options.run_dir, state)) {
        step = resumed->value("step", int64_t(0));
        log::info(options.label + ": resuming from step " + std::to_string(step) + " in " + options.run_dir.string());
      }
    }
    trim_metrics(metrics_path, step);
  }
  if (dist) {
    step = dist->broadcast_int(step);
    for (const auto& part : state.parts) dist->broadcast_module(*part.module, part.optimizer);
    // Each rank draws its own random numbers (dropout, augmentation, null captions), as the records of one large
    // batch would: rank 0 keeps its (restored) stream, rank r > 0 starts one from rank 0's seed, r and the step.
    auto generator = at::detail::getDefaultCPUGenerator();
    const uint64_t seed = uint64_t(dist->broadcast_int(int64_t(generator.current_seed() >> 1)));
    if (!main_rank) {
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_current_seed(stable_hash(std::to_string(seed) + ":rank " + std::to_string(dist->rank()) +
                                             ":step " + std::to_string(step)));
    }
  }

  g_stop_requested = 0;
  auto old_int = std::signal(SIGINT, request_stop);
  auto old_term = std::signal(SIGTERM, request_stop);
  struct RestoreSignals {
    decltype(old_int) i;
    decltype(old_term) t;
    ~RestoreSignals() {
      std::signal(SIGINT, i);
      std::signal(SIGTERM, t);
    }
  } restore{old_int, old_term};

  std::optional<double> last_val;
  auto checkpoint = [&](int64_t at) {
    if (!main_rank) return;
    nlohmann::json extra = hooks.extra_state ? hooks.extra_state() : nlohmann::json::object();
    SaveCheckpointOptions save;
    save.keep_last = options.keep_last;
    save.metric = last_val;
    save_training_state(options.run_dir, at, state, extra, save);
    write_loss_curve(options.run_dir, options.label);
  };
  auto validate = [&](int64_t at) {
    if (!hooks.validate || !main_rank) return;
    Metrics m = hooks.validate(at);
    if (m.count("val_loss")) last_val = m["val_loss"];
    append_metrics(metrics_path, at, m);
    log::info(options.label + ": step " + std::to_string(at) + " " + note_of(m));
  };

  Progress progress(options.label + (dist ? " (rank " + std::to_string(dist->rank()) + ")" : ""), options.steps,
                    "step");
  progress.set_done(step);
  int bad_in_a_row = 0;
  while (step < options.steps) {
    const double comm_before = dist ? dist->collective_seconds() : 0.0;
    const auto began = std::chrono::steady_clock::now();
    Metrics m = hooks.step(step + 1);
    m["step_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    double loss = m.count("loss") ? m["loss"] : 0.0;
    if (dist) {
      m["comm_s"] = dist->collective_seconds() - comm_before;  // this step's time in collectives, waits included
      // Every rank counts a step as bad when any rank's loss is, so they stop together or not at all.
      if (dist->mean(std::isfinite(loss) ? 1.0 : 0.0) < 1.0) loss = std::nan("");
    }
    if (!std::isfinite(loss)) {
      ++bad_in_a_row;
      log::warn(options.label + ": step " + std::to_string(step + 1) + " has a non-finite loss; update skipped");
      COUTURE_CHECK(bad_in_a_row < options.max_bad_steps, options.label, ": ", bad_in_a_row,
                    " non-finite losses in a row; stopping. The last complete checkpoint is in ",
                    options.run_dir.string(), "; try a lower learning rate");
    } else {
      bad_in_a_row = 0;
    }
    ++step;
    progress.set_note(note_of(m));
    progress.advance();
    if (step % options.log_every == 0 || step == options.steps) {
      if (dist) {  // one all-reduce for all of them; the same keys in the same order on every rank (a std::map)
        std::vector<double> values;
        for (const auto& kv : m) values.push_back(kv.second);
        values = dist->mean(values);
        size_t i = 0;
        for (auto& kv : m) kv.second = values[i++];
      }
      if (main_rank) append_metrics(metrics_path, step, m);
    }
    if (options.validate_every > 0 && step % options.validate_every == 0 && step != options.steps) validate(step);
    if (hooks.sample && main_rank && options.sample_every > 0 && step % options.sample_every == 0 &&
        step != options.steps)
      hooks.sample(step);
    if (step % options.checkpoint_every == 0 && step != options.steps) checkpoint(step);
    if (g_stop_requested) {
      checkpoint(step);
      progress.finish();
      throw Error(options.label + ": stopped at step " + std::to_string(step) +
                  "; checkpoint saved, run the same command again to resume");
    }
  }
  progress.finish();
  validate(step);
  if (hooks.sample && main_rank) hooks.sample(step);
  checkpoint(step);
  return step;
}

}  // namespace couture
