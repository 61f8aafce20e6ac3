// Where a run spends its time, by operator: LibTorch's legacy profiler records every operator's start and end on
// this thread; an operator's self time is its time less its children's (aten::linear holds aten::addmm), so the
// self times add up to the run. Matrix products and convolutions are split by their input shapes, which say which
// layer they are. Used by `models_dalle_bench --profile` and `models_vqgan_bench --profile`.
#pragma once
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"

namespace couture::bench {

// Runs `run` once under the profiler and returns a markdown table of the `top` operators by self time (the rest
// summed in one row), after `heading` (formatted with the run's wall seconds and the operators' self seconds, in
// that order, as two %.2f).
inline std::string profile_operators(const std::function<void()>& run, const std::string& heading, size_t top = 25) {
  namespace prof = torch::autograd::profiler;
  prof::thread_event_lists lists;
  const double start = now();
  {
    prof::TLSLegacyProfilerGuard guard(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true),
        [&](const prof::thread_event_lists& events) { lists = events; });
    run();
  }
  const double wall = now() - start;
  struct Total {
    double self_us = 0;
    int64_t calls = 0;
  };
  std::map<std::string, Total> totals;
  for (const auto& events : lists) {
    struct Open {
      const prof::LegacyEvent* event;
      std::string key;
      double children_us = 0;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kindStr() == "push") {
        std::string key = e.name();
        const bool layer = key == "aten::mm" || key == "aten::addmm" || key == "aten::bmm" || key == "aten::baddbmm" ||
                           key == "aten::mkldnn_convolution" || key == "aten::_convolution";
        if (layer) {  // the shapes name the layer: [B,in] x [in,out], or the input and the kernel
          key += " ";
          for (const auto& shape : e.shapes()) {
            if (shape.empty()) continue;
            key += "[";
            for (size_t i = 0; i < shape.size(); ++i) {
              if (i) key += ',';
              key += std::to_string(shape[i]);
            }
            key += "]";
          }
        }
        stack.push_back({&e, key});
      } else if (e.kindStr() == "pop" && !stack.empty()) {
        Open open = stack.back();
        stack.pop_back();
        const double us = open.event->cpuElapsedUs(e);
        totals[open.key].self_us += us - open.children_us;
        totals[open.key].calls += 1;
        if (!stack.empty()) stack.back().children_us += us;
      }
    }
  }
  std::vector<std::pair<std::string, Total>> rows(totals.begin(), totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  double profiled = 0;
  for (const auto& [name, t] : rows) profiled += t.self_us;
  std::ostringstream md;
  char line[512];
  std::snprintf(line, sizeof line, heading.c_str(), wall, profiled / 1e6);
  md << line << "\n\n| operator (products and convolutions by input shapes) | calls | self s | share |\n"
     << "|---|---:|---:|---:|\n";
  double rest = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [name, t] = rows[i];
    if (i >= top) {
      rest += t.self_us;
      continue;
    }
    std::snprintf(line, sizeof line, "| `%s` | %lld | %.3f | %.1f%% |\n", name.c_str(), (long long)t.calls,
                  t.self_us / 1e6, 100.0 * t.self_us / profiled);
    md << line;
  }
  std::snprintf(line, sizeof line, "| (%zu other operators) | | %.3f | %.1f%% |\n",
                rows.size() > top ? rows.size() - top : 0, rest / 1e6, 100.0 * rest / profiled);
  md << line;
  return md.str();
}

}  // namespace couture::bench
