// Attribute-aware reranking: the reranker asked, for each attribute the prompt names (category, colour, print), which
// of the values the bundle knows each candidate shows. For an attribute A whose asked value v the bundle knows, the
// prompt's garment is written as a template caption once per known value u of A (every other attribute as asked;
// for a category, the sentence's part follows u), and
//   p(v | image) = softmax over u of the reranker's logits(caption_u, image)
// — the zero-shot classification `couture eval clip` measures, with the prompt's other attributes held fixed. A
// candidate's score is then the prompt's similarity plus weight * sum over A of log p(v | image): a candidate that
// matches the prompt as a whole but shows the wrong colour falls behind one that shows all that was asked.
// docs/clip.md ("Attribute-aware reranking") has the figures.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "text/prompt_parse.h"

namespace couture {

class ClipScorer;

// The values a bundle's models learnt, per attribute (model.json "attribute_values": {"카테고리": [...],
// "색상": [...], "프린트": [...]}); an attribute absent here is not reranked.
using AttributeValues = std::map<std::string, std::vector<std::string>>;

// The attributes attribute reranking reads, in this order.
const std::vector<std::string>& reranked_attributes();  // 카테고리, 색상, 프린트

struct AttributeReading {
  std::string attribute, value;  // 색상, 레드: what the prompt asked
  at::Tensor probability;        // [N] double: p(value | candidate image)
};

struct AttributeRerank {
  std::vector<AttributeReading> readings;  // the attributes read (asked, and with at least two known values)
  at::Tensor log_probability;              // [N] double: the sum of log p over readings (zeros when none)
};

// The captions of one attribute's question: the prompt's garment with `attribute` set to each of `values` in turn,
// as the template writes it (the parts named by the lexicon); [i] asks values[i].
std::vector<std::string> attribute_captions(const ParsedPrompt& prompt, const std::string& attribute,
                                            const std::vector<std::string>& values,
                                            const Lexicon& lexicon = default_lexicon());

// `image_embeddings` [N,P] from scorer.encode_images. Attributes the prompt does not name, or whose value is not
// among `known`, are left out.
AttributeRerank attribute_rerank(const ClipScorer& scorer, const ParsedPrompt& prompt, const AttributeValues& known,
                                 const at::Tensor& image_embeddings, const Lexicon& lexicon = default_lexicon());

// What ranks a request's candidates: the prompt's similarity to each image, plus attribute_weight times the sum of
// log p(asked value) when the weight is positive and the bundle knows attribute values. `images` as
// ClipScorer::encode_images takes them. The generator and `couture eval rerank` both rank with this.
struct CandidateScores {
  at::Tensor score;            // [N] double, higher is better
  AttributeRerank attributes;  // empty when attribute reranking is off
};
CandidateScores score_candidates(const ClipScorer& scorer, const std::string& prompt, const at::Tensor& images,
                                 double attribute_weight, const AttributeValues& known);

}  // namespace couture
