// The Generator: a loaded model bundle that turns a prompt into N candidates, best first. `couture generate`, the
// server and the evaluation all go through this one interface; it is safe to call from one thread at a time.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/image.h"
#include "generate/generate_params.h"

namespace couture {

struct Candidate {
  int index = 0;            // position in the sampled batch (its seed is seed + index)
  uint64_t seed = 0;
  double score = 0;         // what ranks it (higher is better): the reranker's similarity, plus attribute_weight
                            // times the sum of log attributes[i].second when attribute reranking is on
  // p(asked value | this image) per attribute the prompt named, by the reranker (attribute reranking only)
  std::vector<std::pair<std::string, double>> attributes;
  Image image;
  std::vector<int64_t> codes;  // its image codes, for variations
};

struct GenerateResult {
  std::vector<Candidate> candidates;  // all N, in rank order (best first)
  nlohmann::json timings;             // seconds per stage: tokenize, sample, decode, rerank
  std::string caption;                // what the transformer and the reranker read (prompt_as)
  bool cancelled = false;
};

// Progress: stage ("sample", "decode", "rerank"), done, total. Returning false cancels the request.
using GenerateProgress = std::function<bool(const std::string& stage, int64_t done, int64_t total)>;

class Generator {
 public:
  virtual ~Generator() = default;
  virtual GenerateResult generate(const GenerateParams& params, const GenerateProgress& progress = {}) = 0;
  virtual nlohmann::json describe() const = 0;  // bundle name, models, image size, code grid
  // The codes of an existing design or a picture of one's own, for variations (init_codes, init_image); the image
  // is padded to a square with white and resized to the model's size.
  virtual std::vector<int64_t> encode_image(const Image& image);
  // The image the bundle's VQGAN decodes from a design's codes (encode_image then decode_image is what the image
  // tokenizer keeps of a picture: the evaluation's tokenizer ceiling).
  virtual Image decode_image(const std::vector<int64_t>& codes);
};

// Loads and validates a bundle (model.json and every file it names) before any work.
std::unique_ptr<Generator> load_generator(const LoadParams& params);

}  // namespace couture
