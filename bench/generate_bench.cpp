// End-to-end generation as a designer meets it: one prompt, 16 candidates sampled (KV cache), decoded, reranked,
// the best 4 kept; the bundle loaded once beforehand. Two bundles: the committed default (models/default, trained
// on Couture-FMNIST, 64 px) and randomly initialised `kodalle` presets (256 px, 256 codes, the original's sizes),
// written to a temporary folder. Median wall time over --reps runs (after one warm-up), per-stage medians, and a
// quality figure beside each: the reranker's mean score of the kept 4 against the mean of all 16 (what reranking
// buys; for random weights it only shows the stages ran).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "../tests/support/tiny_bundle.h"
#include "bench_common.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/threads.h"
#include "generate/generator.h"

using namespace couture;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

const char* kPrompt = "상의에서 색상은 레드이다. 카테고리는 티셔츠이다. 프린트에는 무지이다.";

// Random `kodalle` VQGAN, DALL-E and KoCLIP, written as a bundle by the real bundle code.
fs::path make_random_kodalle_bundle(const fs::path& dir) {
  fs::create_directories(dir / "src");
  at::manual_seed(1);
  DalleConfig dc = DalleConfig::preset("kodalle");
  testing::write_tiny_vocab(dir / "src/vocab.txt", dc.num_text_tokens);
  dc.text_pad_id = 1;
  ClipConfig cc = ClipConfig::preset("kodalle");
  cc.set_vocab(dc.num_text_tokens, 1);
  return testing::write_random_bundle(dir, VQGanConfig::preset("kodalle"), dc, &cc, "kodalle-random",
                                      /*keep_sources=*/false);
}

json run_case(const std::string& name, const fs::path& bundle, bool bf16, int reps, int n, int top,
              std::vector<bench::Row>& rows, bool int8 = false) {
  bench::reset_peak_rss();
  const double t_load = bench::now();
  auto generator = load_generator({.model_dir = bundle, .bf16 = bf16, .int8 = int8});
  // int8 only where the CPU has an optimised kernel (the generator falls back to the weights' dtype otherwise).
  const bool int8_ran = generator->describe().value("int8", false);
  const std::string decoder = generator->describe().value("decoder", "");
  const std::string weights = std::string(bf16 ? "bf16" : "fp32") + (int8_ran ? "_int8" : "");
  const double load_seconds = bench::now() - t_load;
  GenerateParams p;
  p.prompt = kPrompt;
  p.n = n;
  p.top = top;
  // As `couture generate` runs it: the bundle's sampling defaults (top_k, cond_scale: guidance doubles the batch).
  p = with_defaults(p, SamplingDefaults::from_json(generator->describe().value("defaults", json::object())),
                    [](const std::string& field) { return field == "n" || field == "top"; });
  std::vector<double> wall, gain, top_mean;
  std::map<std::string, std::vector<double>> stages;
  for (int r = 0; r <= reps; ++r) {  // r == 0: warm-up
    p.seed = uint64_t(r) * 1000;
    const double t0 = bench::now();
    auto result = generator->generate(p);
    const double seconds = bench::now() - t0;
    if (r == 0) continue;
    wall.push_back(seconds);
    for (auto& [stage, s] : result.timings.items())
      if (s.is_number()) stages[stage].push_back(s.get<double>());
    double all = 0, kept = 0;
    for (size_t i = 0; i < result.candidates.size(); ++i) {
      all += result.candidates[i].score;
      if (int(i) < top) kept += result.candidates[i].score;
    }
    top_mean.push_back(kept / top);
    gain.push_back(kept / top - all / double(result.candidates.size()));
  }
  json stage_medians = json::object();
  for (auto& [stage, v] : stages) stage_medians[stage] = bench::median(v);
  json out = {{"case", name},
              {"bundle", bundle.string()},
              {"weights", weights},
              {"decoder", decoder},
              {"candidates", n},
              {"top", top},
              {"settings", p.settings_json()},
              {"threads", threads()},
              {"load_seconds", load_seconds},
              {"median_seconds", bench::median(wall)},
              {"stage_median_seconds", stage_medians},
              {"top_score_mean", bench::median(top_mean)},
              {"rerank_gain", bench::median(gain)}};
  rows.push_back({.bench = "generate", .case_name = name + "_" + weights,
                  .what = name + " bundle, " + std::to_string(n) + " -> " + std::to_string(top) + " end to end" +
                          (p.cond_scale != 1.0 ? ", guidance " + json(p.cond_scale).dump() : "") + ", decoder " +
                          decoder,
                  .median_s = bench::median(wall), .reps = reps, .threads = threads(),
                  .throughput = double(n) / bench::median(wall), .throughput_unit = "candidates/s",
                  .quality = bench::median(gain), .quality_label = "rerank gain (score)",
                  .peak_mb = bench::peak_rss_mb()});
  std::printf("| %s | %s | %d -> %d | %.2f s | %s | %.1f s | %.3f (+%.3f over all %d) |\n", name.c_str(),
              (weights + ", decoder " + decoder).c_str(), n, top, bench::median(wall), stage_medians.dump().c_str(),
              load_seconds,
              bench::median(top_mean), bench::median(gain), n);
  std::fflush(stdout);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);  // see nn/threads.h: OpenMP waiting and OpenBLAS kernels
  CLI::App app{"End-to-end generation speed: 16 candidates -> top 4"};
  bench::Options o;
  std::string model = std::string(COUTURE_SOURCE_DIR) + "/models/default";
  std::string kodalle_dir;
  int n = 16, top = 4;
  bench::add_common_options(app, o, "Skip the random kodalle bundle (writes ~2 GB and takes minutes)");
  app.add_option("--model", model, "The trained bundle to time (default: the committed models/default)");
  app.add_option("--kodalle-bundle", kodalle_dir,
                 "Keep the random kodalle bundle in this folder and reuse it when already there (e.g. to measure "
                 "`couture generate --model DIR/bundle` in a process of its own)");
  app.add_option("-n", n, "Candidates")->check(CLI::Range(1, 64));
  app.add_option("--top", top, "Kept after reranking")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  const int reps = o.reps;
  init_torch_threads(o.threads);
  try {
    std::printf("generate bench: prompt \"%s\", %d threads, %d reps (median after a warm-up)\n\n", kPrompt,
                threads(), reps);
    std::printf("| bundle | weights | candidates | end to end | stages (median s) | load | reranker score of the "
                "kept (gain) |\n|---|---|---|---|---|---|---|\n");
    json cases = json::array();
    std::vector<bench::Row> rows;
    if (fs::exists(fs::path(model) / "model.json")) {
      cases.push_back(run_case("default", model, false, reps, n, top, rows));
      cases.push_back(run_case("default", model, true, reps, n, top, rows));
      cases.push_back(run_case("default", model, true, reps, n, top, rows, /*int8=*/true));
    } else {
      std::printf("| default | - | - | skipped: %s has no model.json (scripts/train-default makes it) |||||\n",
                  model.c_str());
    }
    if (!o.quick) {
      const bool keep = !kodalle_dir.empty();
      const fs::path dir = keep ? fs::path(kodalle_dir)
                                : fs::temp_directory_path() / ("couture-generate-bench-" + std::to_string(getpid()));
      fs::path bundle = dir / "bundle";
      if (!keep || !fs::exists(bundle / "model.json")) {
        const double t0 = bench::now();
        bundle = make_random_kodalle_bundle(dir);
        std::fprintf(stderr, "generate bench: wrote the random kodalle bundle in %.0f s\n", bench::now() - t0);
      }
      try {
        cases.push_back(run_case("kodalle-random", bundle, true, std::min(reps, 2), n, top, rows));
        cases.push_back(run_case("kodalle-random", bundle, true, std::min(reps, 2), n, top, rows, /*int8=*/true));
      } catch (...) {
        if (!keep) fs::remove_all(dir);
        throw;
      }
      if (!keep) fs::remove_all(dir);
    }
    bench::write_json(o.json_path,
                      {{"bench", "generate"}, {"threads", threads()}, {"prompt", kPrompt}, {"cases", cases}},
                      rows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generate bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
