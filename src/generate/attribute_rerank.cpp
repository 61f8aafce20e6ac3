#include "generate/attribute_rerank.h"

#include <algorithm>

#include "generate/rerank.h"
#include "text/caption.h"

namespace couture {

const std::vector<std::string>& reranked_attributes() {
  static const std::vector<std::string> names = {"카테고리", "색상", "프린트"};
  return names;
}

std::vector<std::string> attribute_captions(const ParsedPrompt& prompt, const std::string& attribute,
                                            const std::vector<std::string>& values, const Lexicon& lexicon) {
  // The garment as the template captions it: the attributes the reranker was taught (category, colours, print),
  // in label order, under the part the prompt or its category names (상의 when nothing does).
  static const std::vector<std::string> order = {"색상", "서브색상", "카테고리", "프린트"};  // label order
  kfashion::Part garment;
  for (const auto& a : prompt.garment.attributes)
    if (std::find(order.begin(), order.end(), a.name) != order.end()) garment.attributes.push_back(a);
  std::string part = prompt.garment.name;
  if (part.empty()) part = lexicon.part_of(prompt.value("카테고리"));
  if (part.empty()) part = "상의";

  // Where the attribute goes in label order: its own place when asked, else before the first attribute after it.
  auto rank = [&](const std::string& name) {
    return std::find(order.begin(), order.end(), name) - order.begin();
  };
  auto at = std::find_if(garment.attributes.begin(), garment.attributes.end(),
                         [&](const kfashion::Attribute& a) { return rank(a.name) >= rank(attribute); });
  if (at == garment.attributes.end() || at->name != attribute)
    at = garment.attributes.insert(at, {attribute, {}, kfashion::is_list_attribute(attribute)});

  std::vector<std::string> captions;
  captions.reserve(values.size());
  for (const auto& value : values) {
    at->values = {value};
    kfashion::Label label;
    label.parts.push_back(garment);
    std::string part_of_value = attribute == "카테고리" ? lexicon.part_of(value) : "";
    label.parts[0].name = part_of_value.empty() ? part : part_of_value;
    captions.push_back(kfashion::full_caption(label, {}));
  }
  return captions;
}

AttributeRerank attribute_rerank(const ClipScorer& scorer, const ParsedPrompt& prompt, const AttributeValues& known,
                                 const at::Tensor& image_embeddings, const Lexicon& lexicon) {
  torch::NoGradGuard no_grad;
  AttributeRerank out;
  const int64_t n = image_embeddings.size(0);
  out.log_probability = torch::zeros({n}, torch::kDouble);
  // One batch of captions for every attribute read; `groups` says where each attribute's rows start.
  std::vector<std::string> captions;
  struct Group {
    size_t start, count, asked;
  };
  std::vector<Group> groups;
  for (const auto& attribute : reranked_attributes()) {
    const std::string asked = prompt.value(attribute);
    const auto it = known.find(attribute);
    if (asked.empty() || it == known.end() || it->second.size() < 2) continue;
    const auto& values = it->second;
    const auto pos = std::find(values.begin(), values.end(), asked);
    if (pos == values.end()) continue;
    auto group = attribute_captions(prompt, attribute, values, lexicon);
    groups.push_back({captions.size(), group.size(), size_t(pos - values.begin())});
    captions.insert(captions.end(), group.begin(), group.end());
    out.readings.push_back({attribute, asked, {}});
  }
  if (groups.empty()) return out;
  const at::Tensor logits =
      scorer.logits(scorer.encode_texts(captions), image_embeddings).to(at::kDouble);
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& group = groups[g];
    const at::Tensor log_p =
        logits.slice(0, int64_t(group.start), int64_t(group.start + group.count)).log_softmax(0)[int64_t(group.asked)];
    out.readings[g].probability = log_p.exp();
    out.log_probability += log_p;
  }
  return out;
}

CandidateScores score_candidates(const ClipScorer& scorer, const std::string& prompt, const at::Tensor& images,
                                 double attribute_weight, const AttributeValues& known) {
  torch::NoGradGuard no_grad;
  CandidateScores out;
  const at::Tensor embeddings = scorer.encode_images(images);
  out.score = scorer.similarity(scorer.encode_texts({prompt}), embeddings)[0].to(torch::kDouble);
  if (attribute_weight > 0 && !known.empty()) {
    out.attributes = attribute_rerank(scorer, parse_prompt(prompt), known, embeddings);
    out.score = out.score + attribute_weight * out.attributes.log_probability;
  }
  out.score = out.score.contiguous();
  return out;
}

}  // namespace couture
