#include "eval/rerank_eval.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "core/progress.h"
#include "generate/rerank.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"

namespace couture {

namespace {

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// One-hot "logits" of the judge's readings, so AttributeHits counts them.
AttributeLogits one_hot(const at::Tensor& judged, const at::Tensor& rows, int64_t classes) {
  auto pick = judged.index_select(0, rows);
  auto hot = [&](int a) { return torch::one_hot(pick.select(1, a), classes).to(at::kFloat); };
  return {hot(0), hot(1), hot(2)};
}

}  // namespace

RerankEvalResult evaluate_rerank(const std::filesystem::path& path, const ClipScorer& scorer,
                                 const AttributeValues& known, double attribute_weight, int64_t top) {
  const auto start = std::chrono::steady_clock::now();
  auto file = SafetensorsFile::open(path);
  const auto& meta = file.metadata();
  COUTURE_CHECK_INPUT(meta.count("prompts") && meta.count("settings"), "'", path.string(),
                      "': not candidates written by `couture eval generate --save-candidates`");
  nlohmann::json prompts, settings;
  try {
    prompts = nlohmann::json::parse(meta.at("prompts"));
    settings = nlohmann::json::parse(meta.at("settings"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError("'" + path.string() + "': metadata is not JSON: " + e.what());
  }
  const at::Tensor images = load_tensor(file, "images"), asked = load_tensor(file, "asked"),
                   judged = load_tensor(file, "judged");
  const int64_t count = images.size(0);
  COUTURE_CHECK_INPUT(images.dim() == 5 && images.scalar_type() == at::kByte && prompts.is_array() &&
                          int64_t(prompts.size()) == count && asked.sizes() == at::IntArrayRef({count, 3}) &&
                          judged.dim() == 3 && judged.size(0) == count && judged.size(1) == images.size(1),
                      "'", path.string(), "': tensors images [P,n,H,W,3] uint8, asked [P,3], judged [P,n,3] and ",
                      "P prompts expected");
  RerankEvalResult r;
  r.prompts = count;
  r.n = images.size(1);
  r.top = std::min(r.n, top > 0 ? top : settings.value("top", int64_t(4)));
  const int64_t classes = std::max<int64_t>(judged.max().item<int64_t>(), asked.max().item<int64_t>()) + 1;
  const std::vector<std::string> names = reranked_attributes();

  Progress progress("eval rerank", count, "captions");
  for (int64_t p = 0; p < count; ++p) {
    const std::string prompt = prompts[size_t(p)].get<std::string>();
    const at::Tensor judged_p = judged[p];
    auto scores = score_candidates(scorer, prompt, tensor_from_bytes(images[p]), attribute_weight, known);
    const std::vector<int64_t> order = rank_order(scores.score);
    auto truth = [&](int64_t k) {
      return std::array<at::Tensor, 3>{torch::full({k}, asked[p][0].item<int64_t>(), torch::kLong),
                                       torch::full({k}, asked[p][1].item<int64_t>(), torch::kLong),
                                       torch::full({k}, asked[p][2].item<int64_t>(), torch::kLong)};
    };
    auto add = [&](AttributeHits& hits, const std::vector<int64_t>& which) {
      auto t = truth(int64_t(which.size()));
      hits.add(one_hot(judged_p, torch::tensor(which, torch::kLong), classes), t[0], t[1], t[2]);
    };
    add(r.saved_top1, {0});
    add(r.top1, {order[0]});
    add(r.topk, std::vector<int64_t>(order.begin(), order.begin() + r.top));
    std::vector<int64_t> all(size_t(r.n));
    std::iota(all.begin(), all.end(), 0);
    add(r.mean, all);
    const at::Tensor hit = judged_p.eq(asked[p].unsqueeze(0));  // [n,3]
    r.any.n += 1;
    r.any.category += hit.select(1, 0).any().item<bool>();
    r.any.colour += hit.select(1, 1).any().item<bool>();
    r.any.print += hit.select(1, 2).any().item<bool>();
    r.any.all += hit.all(1).any().item<bool>();
    for (const auto& reading : scores.attributes.readings) {
      const int a = int(std::find(names.begin(), names.end(), reading.attribute) - names.begin());
      if (a >= 3) continue;
      auto pr = reading.probability.accessor<double, 1>();
      auto h = hit.select(1, a).contiguous();
      auto hv = h.accessor<bool, 1>();
      for (int64_t i = 0; i < r.n; ++i)
        for (int64_t j = 0; j < r.n; ++j)
          if (hv[i] && !hv[j]) {
            ++r.pairs[size_t(a)];
            r.pairs_right[size_t(a)] += pr[i] > pr[j];
          }
    }
    progress.advance();
  }
  progress.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

nlohmann::ordered_json RerankEvalResult::to_json() const {
  nlohmann::ordered_json j = {{"prompts", prompts}, {"n", n}, {"top", top}};
  j.update(saved_top1.to_json("saved_top1_"));
  j.update(top1.to_json("top1_"));
  j.update(topk.to_json("topk_"));
  j.update(mean.to_json("mean_"));
  j.update(any.to_json("any_"));
  const char* keys[3] = {"category", "colour", "print"};
  for (size_t a = 0; a < 3; ++a)
    j[std::string("pair_order_") + keys[a]] =
        pairs[a] ? nlohmann::ordered_json(double(pairs_right[a]) / double(pairs[a])) : nlohmann::ordered_json();
  j["seconds"] = seconds;
  return j;
}

std::string RerankEvalResult::markdown() const {
  const std::string N = std::to_string(n), K = std::to_string(top);
  std::string s = "The judge's reading of saved candidates (" + std::to_string(prompts) + " prompts, " + N +
                  " each):\n\n| candidates | category | colour | print | all three |\n|---|---|---|---|---|\n";
  s += saved_top1.markdown_row("top-1 as saved");
  s += top1.markdown_row("top-1, this reranker");
  s += topk.markdown_row("top-" + K + ", this reranker");
  s += mean.markdown_row("a random candidate (mean of all " + N + ")");
  s += any.markdown_row("some candidate of " + N);
  auto order = [&](size_t a) { return pairs[a] ? fmt(double(pairs_right[a]) / double(pairs[a])) : std::string("-"); };
  s += "| pairwise order of p(asked value), judge's reading as truth | " + order(0) + " | " + order(1) + " | " +
       order(2) + " | |\n";
  return s;
}

}  // namespace couture
