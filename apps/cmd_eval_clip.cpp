// couture eval clip: retrieval recall and per-attribute accuracy of a trained CLIP on a prepared dataset's test
// split (src/eval/clip_eval.h says how each figure is made), as a markdown table and one JSON line.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/atomic_file.h"
#include "data/dataset.h"
#include "eval/clip_eval.h"

namespace {

struct Options {
  std::filesystem::path clip, vocab, dataset, json;
  std::string split = "test";
  int64_t limit = 1000, group = 100;
  bool bf16 = false;
};

void run(const Options& o) {
  auto scorer = couture::ClipScorer::load(o.clip, o.vocab, {.bf16 = o.bf16});
  auto data = couture::Dataset::open(o.dataset, o.split);
  couture::ClipEvalOptions options;
  options.limit = o.limit;
  options.group = o.group;
  auto result = couture::evaluate_clip(scorer, data, options);
  auto j = result.to_json();
  j["clip"] = o.clip.string();
  j["dataset"] = o.dataset.string();
  j["split"] = o.split;
  j["bf16"] = o.bf16;
  std::printf("%s\n%s\n", result.markdown().c_str(), j.dump().c_str());
  if (!o.json.empty()) couture::write_file_atomic(o.json, j.dump(2) + "\n");
}

}  // namespace

COUTURE_COMMAND("eval clip", "Recall@1/@5 and per-attribute accuracy of a trained CLIP on a dataset's test split") {
  static Options o;
  cmd.add_option("--clip", o.clip, "A `couture train clip` run folder, or its clip.safetensors")->required();
  cmd.add_option("--dataset", o.dataset, "Prepared dataset folder (couture prepare)")->required();
  cmd.add_option("--vocab", o.vocab, "Vocabulary (default: vocab.txt beside the model)");
  cmd.add_option("--split", o.split, "Dataset split to evaluate");
  cmd.add_option("--limit", o.limit, "Records evaluated, the first ones of the split (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--group", o.group, "Retrieval candidates per group")->check(CLI::Range(2, 100000));
  cmd.add_flag("--bf16", o.bf16, "Run the model in bfloat16");
  cmd.add_option("--json", o.json, "Also write the JSON result to this file");
  cmd.callback([] { run(o); });
}
