// What one generation request asks for, kept apart from what is fixed when the model bundle is loaded
// (LoadParams). Shared by `couture generate`, the server's JSON API and the evaluation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace couture {

constexpr int kMaxPromptChars = 200;  // characters (code points), as the studio's counter shows
constexpr int kMaxCandidates = 64;

struct LoadParams {
  std::filesystem::path model_dir;  // a bundle folder with model.json
  bool bf16 = false;                // bf16 weights and matmuls for the transformer and decoder
};

struct GenerateParams {
  std::string prompt;
  int n = 16;               // candidates sampled
  int top = 4;              // best kept after reranking
  uint64_t seed = 0;        // candidate i uses seed + i
  double temperature = 1.0;
  int top_k = 0;            // 0: off
  double top_p = 1.0;       // 1: off
  double cond_scale = 1.0;  // classifier-free guidance; 1: off
  std::vector<int64_t> init_codes;  // codes of a design to vary ("variations of this one"); empty: none
  int num_init_codes = 0;           // how many of them are kept (0 with init_codes: the original's 43.75%)

  // Checks ranges; throws couture::InputError naming the field ("n must be 1..64").
  void validate() const;
  nlohmann::json to_json() const;
  // Unknown fields, wrong types and out-of-range values are an InputError naming the field.
  static GenerateParams from_json(const nlohmann::json& j);
};

// Counts UTF-8 code points; invalid UTF-8 is an InputError naming `field`.
size_t utf8_length(const std::string& text, const std::string& field);

}  // namespace couture
