// couture eval generate --model DIR --dataset D [--prompts 300] [-n 16]: how often the generated designs show the
// caption's category, colour and print, as read by the judge (src/eval/generate_eval.h says how each figure is
// made). Prints a markdown table and one JSON line; writes OUT/result.json, OUT/result.md and OUT/grid.png.
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "io/image.h"
#include "model_dir.h"
#include "eval/generate_eval.h"
#include "sampling_options.h"

namespace {
namespace fs = std::filesystem;

struct Options {
  std::string model, judge, prompts_file, out = "out/eval-generate";
  fs::path dataset;
  couture::GenerateEvalOptions eval;
  bool bf16 = false, int8 = false, save_candidates = false;
  std::string decoder = "auto";
  CLI::App* cmd = nullptr;
};

void run(Options& o) {
  o.eval.sampling.prompt = "-";  // set per caption; validated here so that bad options fail before loading
  o.eval.sampling.validate(/*merged=*/false);
  if (!o.prompts_file.empty()) {
    auto file = couture::read_eval_prompts(o.prompts_file);
    if (file.skipped)
      couture::log::warn(std::to_string(file.skipped) + " lines of " + o.prompts_file +
                         " skipped, first: " + file.first_problem);
    o.eval.prompt_list = std::move(file.prompts);
  }
  const std::string model = o.model.empty() ? couture::app::default_model_dir() : o.model;
  auto train = couture::Dataset::open(o.dataset, "train"), test = couture::Dataset::open(o.dataset, "test");
  auto generator = couture::load_generator(
      {.model_dir = model, .bf16 = o.bf16, .int8 = o.int8, .decoder = o.decoder});
  const fs::path judge_path = o.judge.empty() ? fs::path(model) / "judge.safetensors" : fs::path(o.judge);
  COUTURE_CHECK_INPUT(fs::exists(judge_path), "judge '", judge_path.string(),
                      "' not found: pass --judge (a `couture train judge` run) or put judge.safetensors in the bundle");
  auto judge = couture::load_judge(judge_path);
  o.eval.sampling = couture::app::with_bundle_defaults(
      *o.cmd, o.eval.sampling, generator->describe().value("defaults", nlohmann::json::object()));

  if (o.save_candidates) o.eval.candidates_out = fs::path(o.out) / "candidates.safetensors";
  fs::create_directories(o.out);
  auto result = couture::evaluate_generation(*generator, *judge, train, test, o.eval);
  auto j = result.to_json();
  j["model"] = model;
  j["judge"] = judge_path.string();
  j["dataset"] = o.dataset.string();
  j["settings"] = o.eval.sampling.settings_json();
  j["bf16"] = o.bf16;
  j["int8"] = o.int8;
  j["decoder"] = generator->describe().value("decoder", "");
  const std::string md = result.markdown();
  couture::write_file_atomic(fs::path(o.out) / "result.json", j.dump(2) + "\n");
  couture::write_file_atomic(fs::path(o.out) / "result.md", md);
  if (!result.shown.empty()) couture::write_png(fs::path(o.out) / "grid.png", couture::generate_eval_figure(result, test));
  std::printf("%s\n%s\n", md.c_str(), j.dump().c_str());
  char line[256];
  std::snprintf(line, sizeof line, "eval generate: %lld captions in %.1f s (generation %.1f s); wrote %s/", 
                (long long)result.prompts, result.seconds, result.generate_seconds, o.out.c_str());
  couture::log::info(std::string(line) + "{result.json,result.md,grid.png" +
                     (o.save_candidates ? ",candidates.safetensors}" : "}"));
}

}  // namespace

COUTURE_COMMAND("eval generate",
                "Attribute accuracy, Fréchet distance and diversity of a bundle's designs, read by the judge") {
  static Options o;
  o.cmd = &cmd;
  cmd.add_option("--model", o.model, "Model bundle folder (default: $COUTURE_MODEL, else models/default)");
  cmd.add_option("--dataset", o.dataset, "Prepared dataset folder (couture prepare): its test captions and images")
      ->required();
  cmd.add_option("--judge", o.judge, "A `couture train judge` run or file (default: judge.safetensors in the bundle)");
  cmd.add_option("--prompts", o.eval.prompts, "Test captions evaluated, picked by --seed")->check(CLI::PositiveNumber);
  cmd.add_option("--prompts-file", o.prompts_file,
                 "Evaluate these prompts instead: JSON lines {\"prompt\", \"category\", \"colour\", \"print\"}");
  couture::app::add_sampling_options(cmd, o.eval.sampling);
  cmd.add_option("--grid-rows", o.eval.grid_rows, "Captions shown in grid.png")->check(CLI::NonNegativeNumber);
  cmd.add_option("--out", o.out, "Output folder: result.json, result.md, grid.png");
  cmd.add_flag("--save-candidates", o.save_candidates,
               "Also write every candidate, its score and the judge's reading to OUT/candidates.safetensors "
               "(for `couture eval rerank`)");
  couture::app::add_load_options(cmd, o.bf16, o.int8, o.decoder);
  cmd.callback([] { run(o); });
}
