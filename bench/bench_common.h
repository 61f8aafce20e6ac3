// What every bench/*_bench.cpp shares: the common options (--json, --reps, --threads, --quick), median timing after
// a warm-up, peak memory, the machine's description, and the uniform `rows` that scripts/bench gathers from each
// bench's JSON into one table (docs/benchmarks.md). Header-only and free of LibTorch: the tokenizer bench has none.
#pragma once
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace couture::bench {

using json = nlohmann::ordered_json;

struct Options {
  std::string json_path;
  int reps = 3;
  int threads = 0;  // 0: one per core
  bool quick = false;
};

// The options every bench takes; `quick_help` says what --quick leaves out in this bench. A bench that runs on one
// thread by design takes no --threads.
inline void add_common_options(CLI::App& app, Options& o, const std::string& quick_help, bool threads_option = true) {
  app.add_option("--json", o.json_path, "Also write the results (with their uniform `rows`) as JSON to this file");
  app.add_option("--reps", o.reps, "Timed repetitions per case (median), after a warm-up")
      ->check(CLI::Range(1, 1000));
  if (threads_option) app.add_option("--threads", o.threads, "Intra-op threads (0: one per core)");
  app.add_flag("--quick", o.quick, quick_help);
}

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of all threads: on a shared machine, CPU time / threads is what the wall time would be on idle cores.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Timing {
  double wall = 0, cpu = 0;  // medians, seconds
  int reps = 0;
};

// One untimed warm-up call (allocator, caches, lazy initialisation), then `reps` timed ones.
template <typename F>
Timing time_median(int reps, F&& f) {
  f();
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const double start = now(), cpu_start = process_cpu_seconds();
    f();
    cpu.push_back(process_cpu_seconds() - cpu_start);
    wall.push_back(now() - start);
  }
  return {median(wall), median(cpu), reps};
}

// Peak resident memory of this process (VmHWM), MB; -1 where /proc says nothing.
inline double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

// Restarts the peak at the current resident size (Linux: "5" to clear_refs), so each case reports its own peak.
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

inline std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// One line of the project's benchmark table.
struct Row {
  std::string bench, case_name, what;
  double median_s = 0;  // per repetition (a batch, a step, a whole run: `what` says)
  int reps = 0, threads = 1;
  double throughput = 0;
  std::string throughput_unit;  // images/s, tokens/s, captions/s, steps/s, GFLOP/s
  std::optional<double> quality;
  std::string quality_label;  // what `quality` is: "rel err vs fp32", "loss step N / step 1", ...
  double peak_mb = -1;        // < 0: not measured
  std::string note;           // why the case has no figures (unsupported, failed); empty when it ran
};

inline json to_json(const Row& r) {
  json j = {{"bench", r.bench}, {"case", r.case_name}, {"what", r.what}};
  if (!r.note.empty()) {
    j["note"] = r.note;
    return j;
  }
  j.update({{"median_s", r.median_s}, {"reps", r.reps}, {"threads", r.threads}, {"throughput", r.throughput},
            {"throughput_unit", r.throughput_unit}});
  j["quality"] = r.quality ? json(*r.quality) : json(nullptr);
  j["quality_label"] = r.quality_label;
  if (r.peak_mb >= 0) j["peak_mb"] = r.peak_mb;
  return j;
}

// The uniform table for the benches that have no table of their own.
inline void print_rows_header() {
  std::printf("%-24s %10s %14s %-10s %7s %8s  %s\n", "case", "median s", "throughput", "unit", "threads", "peak MB",
              "quality");
}

inline void print_row(const Row& r) {
  if (!r.note.empty()) {
    std::printf("%-24s %s\n", r.case_name.c_str(), r.note.c_str());
  } else {
    std::printf("%-24s %10.4f %14.1f %-10s %7d %8.0f  %s %.4g\n", r.case_name.c_str(), r.median_s, r.throughput,
                r.throughput_unit.c_str(), r.threads, r.peak_mb, r.quality_label.c_str(),
                r.quality.value_or(std::nan("")));
  }
  std::fflush(stdout);
}

// Writes `doc` (the bench's own fields) with "rows" added; nothing when `path` is empty.
inline void write_json(const std::string& path, json doc, const std::vector<Row>& rows) {
  if (path.empty()) return;
  doc["rows"] = json::array();
  for (const Row& r : rows) doc["rows"].push_back(to_json(r));
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace couture::bench
