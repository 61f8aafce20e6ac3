// `couture eval rerank`: a reranker judged on candidates already generated. `couture eval generate
// --save-candidates` keeps every candidate of an evaluation with the judge's reading (OUT/candidates.safetensors);
// this ranks them again with a bundle's reranker (and an attribute weight) and reports the judge's accuracy of the
// new top 1 and top k beside the saved ranking's, the mean candidate and the best of n. It tries a reranker in
// seconds where regenerating takes minutes, and since the candidates are fixed, any difference is the reranker's.
// Per attribute it also gives the pairwise order accuracy: over the pairs of one caption's candidates of which the
// judge reads the asked value in one and not the other, how often the reranker's p(asked value) puts that one first.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "generate/attribute_rerank.h"
#include "train/attribute_labels.h"

namespace couture {

struct RerankEvalResult {
  int64_t prompts = 0, n = 0, top = 0;
  AttributeHits saved_top1, top1, topk, mean, any;
  // category, colour, print: pairs ordered as the judge reads them, and pairs counted
  std::array<int64_t, 3> pairs_right{}, pairs{};
  double seconds = 0;

  nlohmann::ordered_json to_json() const;
  std::string markdown() const;
};

// `known` are the bundle's attribute values; `top` the k of top k (the saved settings' when 0).
RerankEvalResult evaluate_rerank(const std::filesystem::path& candidates, const ClipScorer& scorer,
                                 const AttributeValues& known, double attribute_weight, int64_t top = 0);

}  // namespace couture
