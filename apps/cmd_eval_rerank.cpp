// couture eval rerank --candidates OUT/candidates.safetensors [--model DIR] [--clip C] [--attribute-weight W]: a
// reranker judged on candidates `couture eval generate --save-candidates` kept (src/eval/rerank_eval.h). Prints a
// markdown table and one JSON line; writes OUT/result.json and OUT/result.md.
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "eval/rerank_eval.h"
#include "generate/bundle.h"
#include "generate/rerank.h"
#include "model_dir.h"

namespace {
namespace fs = std::filesystem;

struct Options {
  std::string candidates, model, clip, out = "out/eval-rerank";
  double attribute_weight = -1;  // < 0: the bundle's default
  int64_t top = 0;
};

void run(const Options& o) {
  const std::string model = o.model.empty() ? couture::app::default_model_dir() : o.model;
  auto manifest = couture::BundleManifest::load(model);
  const fs::path clip = o.clip.empty() ? manifest.reranker : fs::path(o.clip);
  COUTURE_CHECK_INPUT(!clip.empty(), "bundle '", model, "' has no reranker: pass --clip");
  auto scorer = couture::ClipScorer::load(clip, o.clip.empty() ? manifest.vocab : fs::path());
  const double weight =
      o.attribute_weight >= 0 ? o.attribute_weight : manifest.defaults.attribute_weight.value_or(0.0);
  auto result = couture::evaluate_rerank(o.candidates, scorer, manifest.attribute_values, weight, o.top);
  auto j = result.to_json();
  j["candidates"] = o.candidates;
  j["model"] = model;
  j["clip"] = clip.string();
  j["attribute_weight"] = weight;
  fs::create_directories(o.out);
  const std::string md = result.markdown();
  couture::write_file_atomic(fs::path(o.out) / "result.json", j.dump(2) + "\n");
  couture::write_file_atomic(fs::path(o.out) / "result.md", md);
  std::printf("%s\n%s\n", md.c_str(), j.dump().c_str());
  couture::log::info("eval rerank: " + std::to_string(result.prompts) + " prompts; wrote " + o.out +
                     "/{result.json,result.md}");
}

}  // namespace

COUTURE_COMMAND("eval rerank", "Rank saved candidates (eval generate --save-candidates) again with a reranker") {
  static Options o;
  cmd.add_option("--candidates", o.candidates, "OUT/candidates.safetensors of `couture eval generate`")->required();
  cmd.add_option("--model", o.model,
                 "Bundle whose reranker and attribute values rank (default: $COUTURE_MODEL, else models/default)");
  cmd.add_option("--clip", o.clip, "Another reranker (a `train clip` run or file) with the bundle's values");
  cmd.add_option("--attribute-weight", o.attribute_weight, "Attribute reranking weight (default: the bundle's)")
      ->check(CLI::Range(0.0, 10.0));
  cmd.add_option("--top", o.top, "k of the top-k row (default: the saved settings')")->check(CLI::PositiveNumber);
  cmd.add_option("--out", o.out, "Output folder: result.json, result.md");
  cmd.callback([] { run(o); });
}
