// DALL-E sampling and training speed on this machine: the `kodalle` preset with random weights, 16 candidates x
// 256 codes, with and without the KV cache, fp32 and bf16 weights; training forward + backward at batch 4, fp32
// and bf16 autocast. Each case runs in a child process of this binary so its peak memory (VmHWM) is its own.
// Full no-cache runs take hours in fp32: those cases time single steps at a few lengths and sum the piecewise
// linear interpolation over all 256 steps (marked "extrapolated").
#include <ATen/autocast_mode.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <map>

#include <cstdio>
#include <sstream>
#include <unistd.h>

#include "bench_common.h"
#include "bench_profile.h"
#include "core/error.h"
#include "core/threads.h"
#include "io/safetensors.h"
#include "models/dalle.h"
#include "models/dalle_sampling.h"
#include "nn/tensor_io.h"
#include "nn/threads.h"

using namespace couture;
using json = nlohmann::ordered_json;

namespace {

struct Options {
  bench::Options common;
  std::string preset = "kodalle", child_case, dump_path, profile_path;
  int64_t candidates = 16;
  bool packed = false;
};

struct Case {
  std::string name, what;
  bool slow;  // skipped by --quick
};

const std::vector<Case> kCases = {
    {"sample_bf16_cache", "sample, bf16 weights, KV cache", false},
    {"sample_bf16_packed", "sample, bf16, KV cache, packed weights", false},
    {"sample_int8_packed", "sample, int8 layer weights, KV cache, packed", false},
    {"sample_fp32_cache", "sample, fp32, KV cache", false},
    {"sample_fp32_packed", "sample, fp32, KV cache, packed weights", false},
    {"sample_bf16_nocache", "sample, bf16, no cache (full forward per step)", false},
    {"sample_fp32_nocache", "sample, fp32, no cache", true},
    {"sample_fp32_nocache_n1", "sample ONE candidate, fp32, no cache (the original's way)", false},
    {"train_fp32", "train fwd+bwd, batch 4, fp32", true},
    {"train_bf16_autocast", "train fwd+bwd, batch 4, bf16 autocast", true},
};

// Same random weights in every case (one seed), built directly in the weights' dtype.
Dalle make_model(const Options& o, at::ScalarType dtype) {
  torch::manual_seed(0);
  return Dalle(DalleConfig::preset(o.preset), dtype);
}

at::Tensor random_caption(const DalleConfig& c, int64_t batch) {
  torch::manual_seed(1);
  return at::randint(c.num_text_tokens, {batch, c.text_seq_len}, at::kLong);
}

json run_sampling(const Options& o, at::ScalarType dtype, bool cache, int64_t candidates, bool packed = false,
                  bool int8 = false) {
  Dalle model = make_model(o, dtype);
  if (packed) model->pack_for_decoding(/*inference_only=*/false, int8);
  const auto& c = model->config();
  auto caption = random_caption(c, 1);
  SampleParams params;
  params.n = candidates;
  params.seed = 42;
  params.use_cache = cache;
  const int64_t N = c.image_seq_len();
  json out;
  if (cache) {
    std::vector<double> times;
    SampleResult result;
    for (int r = 0; r < o.common.reps; ++r) {
      const double start = bench::now();
      result = sample_codes(model, caption, params);
      times.push_back(bench::now() - start);
    }
    out["seconds"] = bench::median(times);
    out["reps"] = o.common.reps;
    if (!o.dump_path.empty()) {
      // Every position's logits of one fixed code sequence (the same in every case), through the decoding step.
      torch::NoGradGuard no_grad;
      torch::manual_seed(3);
      auto fixed = at::randint(c.num_image_tokens, {1, N}, at::kLong);
      auto logits = stepwise_image_logits(model, caption, fixed, true).select(0, 0).to(at::kFloat);
      save_tensors(o.dump_path, {{"codes", result.codes}, {"logits", logits.contiguous()}});
    }
  } else {
    // One full forward over the prefix and s codes per step; time a few s and interpolate.
    torch::NoGradGuard no_grad;
    model->eval();
    auto prefix = model->embed_text(caption).expand({candidates, -1, -1});
    auto codes = at::randint(c.num_image_tokens, {candidates, N}, at::kLong);
    const std::vector<int64_t> at_steps = {0, N / 4, N / 2, 3 * N / 4, N - 1};
    std::vector<double> step_seconds;
    model->image_logits(model->transform(prefix).select(1, -1));  // warm-up
    for (int64_t s : at_steps) {
      auto x = s == 0 ? prefix : at::cat({prefix, model->embed_image(codes.narrow(1, 0, s), 0)}, 1);
      const double start = bench::now();
      model->image_logits(model->transform(x).select(1, -1));
      step_seconds.push_back(bench::now() - start);
    }
    double total = 0;
    for (int64_t s = 0; s < N; ++s) {
      size_t i = 0;
      while (i + 2 < at_steps.size() && s > at_steps[i + 1]) ++i;
      const double f = double(s - at_steps[i]) / double(at_steps[i + 1] - at_steps[i]);
      total += step_seconds[i] + f * (step_seconds[i + 1] - step_seconds[i]);
    }
    out["seconds"] = total;
    out["reps"] = 1;
    out["extrapolated"] = true;
    out["step_seconds"] = step_seconds;
  }
  out["tokens_per_s"] = double(candidates * N) / out["seconds"].get<double>();
  out["tokens"] = candidates * N;
  return out;
}

// Where one KV-cached bf16 sampling run spends its time, by operator (bench_profile.h), written as a markdown
// table to `path`.
void profile_sampling(const Options& o) {
  Dalle model = make_model(o, at::kBFloat16);
  if (o.packed) model->pack_for_decoding();
  auto caption = random_caption(model->config(), 1);
  SampleParams params;
  params.n = o.candidates;
  params.seed = 42;
  params.use_cache = true;
  sample_codes(model, caption, params);  // warm-up
  char heading[300];
  std::snprintf(heading, sizeof heading,
                "Preset %s, %lld candidates x %lld codes, bf16 weights%s, KV cache, %d threads: %%.2f s under the "
                "profiler (operators' self time %%.2f s).",
                o.preset.c_str(), (long long)o.candidates, (long long)model->config().image_seq_len(),
                o.packed ? " (packed)" : "", threads());
  const std::string md = bench::profile_operators([&] { sample_codes(model, caption, params); }, heading);
  std::printf("%s", md.c_str());
  std::ofstream(o.profile_path) << md;
}

json run_training(const Options& o, bool autocast) {
  Dalle model = make_model(o, at::kFloat);
  model->train();
  const auto& c = model->config();
  const int64_t B = 4;
  auto text = random_caption(c, B);
  auto codes = at::randint(c.num_image_tokens, {B, c.image_seq_len()}, at::kLong);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  std::vector<double> times, losses;
  const int steps = std::max(2, o.common.reps - 1) + 1;  // the first is a warm-up
  for (int step = 0; step < steps; ++step) {
    torch::manual_seed(7);  // same dropout masks in both cases
    model->zero_grad();
    const double start = bench::now();
    at::autocast::set_cpu_enabled(autocast);
    auto loss = model->loss(text, codes).loss;
    at::autocast::set_cpu_enabled(false);
    loss.backward();
    at::autocast::clear_cache();
    if (step > 0) times.push_back(bench::now() - start);
    losses.push_back(loss.item<double>());
  }
  json out;
  out["seconds"] = bench::median(times);
  out["reps"] = int(times.size());
  out["tokens"] = B * c.total_seq_len();
  out["tokens_per_s"] = double(B * c.total_seq_len()) / out["seconds"].get<double>();
  out["loss"] = losses.back();
  return out;
}

json run_child(const Options& o) {
  json out;
  if (o.child_case == "sample_bf16_cache") out = run_sampling(o, at::kBFloat16, true, o.candidates);
  else if (o.child_case == "sample_fp32_cache") out = run_sampling(o, at::kFloat, true, o.candidates);
  else if (o.child_case == "sample_bf16_packed") out = run_sampling(o, at::kBFloat16, true, o.candidates, true);
  else if (o.child_case == "sample_fp32_packed") out = run_sampling(o, at::kFloat, true, o.candidates, true);
  else if (o.child_case == "sample_int8_packed")
    out = run_sampling(o, at::kBFloat16, true, o.candidates, true, /*int8=*/true);
  else if (o.child_case == "sample_bf16_nocache") out = run_sampling(o, at::kBFloat16, false, o.candidates);
  else if (o.child_case == "sample_fp32_nocache") out = run_sampling(o, at::kFloat, false, o.candidates);
  else if (o.child_case == "sample_fp32_nocache_n1") out = run_sampling(o, at::kFloat, false, 1);
  else if (o.child_case == "train_fp32") out = run_training(o, false);
  else if (o.child_case == "train_bf16_autocast") out = run_training(o, true);
  else throw Error("unknown case '" + o.child_case + "'");
  out["peak_mb"] = bench::peak_rss_mb();
  out["threads"] = threads();
  return out;
}

json run_in_child(const std::string& self, const Options& o, const Case& c, const std::string& dump) {
  std::ostringstream cmd;
  cmd << "'" << self << "' --case " << c.name << " --preset " << o.preset << " --candidates " << o.candidates
      << " --reps " << o.common.reps << " --threads " << o.common.threads;
  if (!dump.empty()) cmd << " --dump '" << dump << "'";
  FILE* pipe = popen(cmd.str().c_str(), "r");
  if (!pipe) throw Error("cannot start " + cmd.str());
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  const auto at = output.rfind("RESULT ");
  if (status != 0 || at == std::string::npos) throw Error("case " + c.name + " failed:\n" + output);
  return json::parse(output.substr(at + 7));
}

// A sampling case against a reference case on the same random weights and seeds (bf16 against fp32, packed against
// plain, int8 against bf16): the logits of one fixed code sequence at every position (teacher-forced: the same
// inputs in both, so the error does not compound) and the sampled codes. Fills row[<key>] and friends; returns the
// quality text.
std::string compare_sampling(const std::string& dump, const std::string& reference_dump, const std::string& reference,
                             json& row) {
  auto a = SafetensorsFile::open(dump), b = SafetensorsFile::open(reference_dump);
  auto la = load_tensor(a, "logits"), lb = load_tensor(b, "logits");
  auto ca = load_tensor(a, "codes"), cb = load_tensor(b, "codes");
  const double rel = (la - lb).norm().item<double>() / lb.norm().item<double>();
  const double argmax_agree = la.argmax(-1).eq(lb.argmax(-1)).to(at::kDouble).mean().item<double>();
  auto same = ca.eq(cb);
  const int64_t identical = same.all(1).sum().item<int64_t>();
  // Codes agree until the first difference, then the sequences go their own ways.
  const double prefix = same.to(at::kFloat).cumprod(1).sum(1).mean().item<double>();
  row["logits_rel_err_vs"] = rel;
  row["reference"] = reference;
  row["argmax_agreement"] = argmax_agree;
  row["candidates_equal"] = identical;
  row["mean_codes_before_divergence"] = prefix;
  char text[200];
  std::snprintf(text, sizeof text,
                "vs %s: logits rel err %.2g, argmax %.3f same, %lld/%lld candidates equal, first %.0f codes agree",
                reference.c_str(), rel, argmax_agree, (long long)identical, (long long)ca.size(0), prefix);
  return text;
}

// The cases in the project's uniform table (after the fp32 case has filled in the bf16 case's comparison).
std::vector<bench::Row> table_rows(const std::string& preset, const json& results) {
  std::vector<bench::Row> rows;
  for (const json& j : results) {
    bench::Row r{.bench = "models_dalle", .case_name = preset + "_" + j["case"].get<std::string>(),
                 .what = preset + " " + j["what"].get<std::string>()};
    r.median_s = j["seconds"], r.reps = j["reps"], r.threads = j["threads"];
    r.throughput = j["tokens_per_s"], r.throughput_unit = "tokens/s";
    r.peak_mb = j["peak_mb"];
    if (j.contains("logits_rel_err_vs")) {
      r.quality = j["logits_rel_err_vs"], r.quality_label = "logits rel err vs " + j["reference"].get<std::string>();
    } else if (j.contains("loss")) {
      r.quality = j["loss"], r.quality_label = "loss (random data)";
    } else {
      r.quality_label = j["quality"].get<std::string>();
    }
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);  // see nn/threads.h: OpenMP waiting and OpenBLAS kernels
  CLI::App app{"DALL-E sampling and training speed (kodalle preset, random weights)"};
  Options o;
  bench::add_common_options(app, o.common, "Skip the slow cases (fp32 no-cache, training); the fmnist preset "
                                           "unless --preset is given");
  auto* preset_option = app.add_option("--preset", o.preset, "Model preset");
  app.add_option("--candidates", o.candidates, "Candidates per sampling run");
  app.add_option("--case", o.child_case, "Run one case and print its result (used internally)");
  app.add_option("--dump", o.dump_path, "With --case: save the sampled codes and first logits here");
  app.add_option("--profile", o.profile_path,
                 "Instead of the cases: profile one bf16 KV-cached sampling run by operator, a markdown table here");
  app.add_flag("--packed", o.packed, "With --profile: weights packed for decoding (DalleImpl::pack_for_decoding)");
  CLI11_PARSE(app, argc, argv);
  if (o.common.quick && preset_option->count() == 0) o.preset = "fmnist";
  init_torch_threads(o.common.threads);
  try {
    if (!o.profile_path.empty()) {
      profile_sampling(o);
      return 0;
    }
    if (!o.child_case.empty()) {
      std::printf("RESULT %s\n", run_child(o).dump().c_str());
      return 0;
    }
    std::printf("DALL-E bench: preset %s, %lld candidates, %s, %d threads (OMP_WAIT_POLICY %s), %d reps (median), "
                "load average %s\n",
                o.preset.c_str(), (long long)o.candidates, bench::cpu_model().c_str(), threads(),
                std::getenv("OMP_WAIT_POLICY"), o.common.reps, bench::load_average().c_str());
    std::fflush(stdout);
    const std::string self = std::filesystem::canonical("/proc/self/exe").string();
    const auto dir = std::filesystem::temp_directory_path();
    // Each KV-cached sampling case's codes and first logits, to compare with its reference case.
    auto dump_of = [&](const std::string& name) { return (dir / (name + "_" + std::to_string(getpid()))).string(); };
    const std::map<std::string, std::string> reference_of = {{"sample_bf16_packed", "sample_bf16_cache"},
                                                              {"sample_int8_packed", "sample_bf16_packed"},
                                                              {"sample_fp32_cache", "sample_bf16_cache"},
                                                              {"sample_fp32_packed", "sample_fp32_cache"}};
    std::map<std::string, size_t> row_of;
    json results = json::array();
    std::printf("%-24s %10s %10s %9s %7s  %s\n", "case", "seconds", "tokens/s", "peak MB", "threads", "quality");
    for (const auto& c : kCases) {
      if (o.common.quick && c.slow) continue;
      const bool cached = c.name.find("_cache") != std::string::npos || c.name.find("_packed") != std::string::npos;
      json row = run_in_child(self, o, c, cached ? dump_of(c.name) : "");
      json head = {{"case", c.name}, {"what", c.what}};
      head.update(row);
      row = head;
      std::string quality = row.value("extrapolated", false) ? "extrapolated from 5 timed steps" : "";
      if (c.name == "sample_fp32_cache" && row_of.count("sample_bf16_cache")) {
        // bf16's error is against fp32: fill in the bf16 row now that fp32 has run.
        json& bf16 = results[row_of["sample_bf16_cache"]];
        const std::string q = compare_sampling(dump_of("sample_bf16_cache"), dump_of(c.name), "fp32", bf16);
        bf16["quality"] = q;
        std::printf("%-24s %s\n", "  bf16 quality", q.c_str());
        quality = "reference for bf16";
      } else if (reference_of.count(c.name) && row_of.count(reference_of.at(c.name))) {
        const std::string label = c.name == "sample_int8_packed"                 ? "packed bf16"
                                  : c.name.find("bf16") != std::string::npos ? "plain bf16"
                                                                             : "plain fp32";
        quality = compare_sampling(dump_of(c.name), dump_of(reference_of.at(c.name)), label, row);
      }
      if (c.name.rfind("train", 0) == 0) quality = "loss " + std::to_string(row["loss"].get<double>());
      if (!row.contains("quality")) row["quality"] = quality;
      std::printf("%-24s %10.2f %10.1f %9.0f %7d  %s\n", c.name.c_str(), row["seconds"].get<double>(),
                  row["tokens_per_s"].get<double>(), row["peak_mb"].get<double>(), row["threads"].get<int>(),
                  quality.c_str());
      std::fflush(stdout);
      row_of[c.name] = results.size();
      results.push_back(row);
    }
    std::printf("load average at the end: %s (other work on the machine slows every case, 2 threads most)\n",
                bench::load_average().c_str());
    for (const auto& c : kCases) std::filesystem::remove(dump_of(c.name));
    json doc = {{"bench", "models_dalle"}, {"preset", o.preset}, {"cpu", bench::cpu_model()},
                {"threads", threads()}, {"omp_wait_policy", std::getenv("OMP_WAIT_POLICY")},
                {"load_average_end", bench::load_average()}, {"results", results}};
    bench::write_json(o.common.json_path, doc, table_rows(o.preset, results));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "models_dalle_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
