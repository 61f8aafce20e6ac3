// What one generation request asks for, kept apart from what is fixed when the model bundle is loaded
// (LoadParams). Shared by `couture generate`, the server's JSON API and the evaluation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace couture {

struct Image;

constexpr int kMaxPromptChars = 200;  // characters (code points), as the studio's counter shows
constexpr int kMaxCandidates = 64;
constexpr double kMaxTemperature = 10.0;
constexpr int kMaxTopK = 1 << 20;
constexpr double kMaxCondScale = 50.0;
constexpr double kMaxAttributeWeight = 10.0;
constexpr size_t kMaxInitCodes = 4096;  // a 64x64 code grid; the generator checks the bundle's own size
constexpr int kMaxInitImageSide = 2048;  // pixels a side of an uploaded picture to vary (init_image)
// What the transformer and the reranker read (GenerateParams::prompt_as).
inline constexpr const char* kPromptAsTyped = "typed";
inline constexpr const char* kPromptAsUnderstood = "understood";

// An InputError about one request field: the server answers {"error": what(), "field": field()}.
class FieldError : public InputError {
 public:
  FieldError(std::string field, const std::string& message) : InputError(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }  // "" when the whole request is at fault

 private:
  std::string field_;
};

struct LoadParams {
  std::filesystem::path model_dir;  // a bundle folder with model.json
  bool bf16 = false;                // bf16 weights and matmuls for the transformer and decoder
  bool packed = true;               // the transformer's decoding step on packed weights (DalleImpl::pack_for_decoding);
                                    // false: the plain path (same designs in fp32, slower), for comparisons
  bool int8 = false;  // with packed: the transformer's layer products on int8 weights (DalleImpl::pack_for_decoding)
  // With bf16: the VQGAN decoder's precision. "auto": bf16 (NCHW) where a convolution of the decoder's widest level
  // runs faster in bf16 than in fp32 channels-last on this CPU, measured once at load; "bf16" or "fp32" to choose.
  // Without bf16 the decoder is fp32 channels-last. describe()'s "decoder" says which ran.
  std::string decoder = "auto";
};

struct GenerateParams {
  std::string prompt;
  // What guidance steers away from (AUTOMATIC1111's negative prompt): the caption guidance contrasts the prompt
  // with, instead of the empty one. Needs cond_scale other than 1; empty: the empty caption.
  std::string negative_prompt;
  int n = 16;               // candidates sampled
  int top = 4;              // best kept after reranking
  uint64_t seed = 0;        // candidate i uses seed + i
  double temperature = 1.0;
  int top_k = 0;            // 0: off
  double top_p = 1.0;       // 1: off
  double cond_scale = 1.0;  // classifier-free guidance; 1: off
  // Attribute-aware reranking (generate/attribute_rerank.h): score = similarity + attribute_weight * the sum of
  // log p(asked value) over the category, colour and print the prompt names. 0: off (similarity alone).
  double attribute_weight = 0.0;
  // "typed": the models read the prompt as typed. "understood": they read the label-template caption of what the
  // lexicon understood in it (understood_caption in text/prompt_parse.h: "빨간 줄무늬 티셔츠" -> "상의에서 색상은
  // 레드이다. 상의에서 카테고리는 티셔츠이다. 상의에서 프린트에는 스트라이프이다."), the form they learnt best;
  // the prompt as typed when no garment was understood. Words not understood are then not read (result "caption").
  std::string prompt_as = kPromptAsTyped;
  std::vector<int64_t> init_codes;  // codes of a design to vary ("variations of this one"); empty: none
  int num_init_codes = 0;           // how many of them are kept (0 with init_codes: the original's 43.75%)
  // A picture of one's own to vary: the generator encodes it with the bundle's VQGAN (resized to the model's
  // size) and uses its codes as init_codes. In JSON: "init_image", a base64 PNG or JPEG (a data: URL too).
  std::shared_ptr<const Image> init_image;

  // Checks ranges; throws FieldError naming the field ("n must be an integer 1..64, got 100"). `merged` false: the
  // bundle's defaults are still to come, so what depends on them (a negative prompt needs guidance) waits.
  void validate(bool merged = true) const;
  nlohmann::json to_json() const;
  // Unknown fields, wrong types and out-of-range values are a FieldError naming the field. Absent fields keep
  // their defaults; the result is validated unless `validate` is false (when defaults are still to be merged).
  static GenerateParams from_json(const nlohmann::json& j, bool validate = true);
  // The settings that go into each PNG and reply: everything but the prompt, the init codes (their count only) and
  // the init image (its size only).
  nlohmann::json settings_json() const;
};

// The sampling settings a model bundle chooses for requests that do not (model.json "defaults", e.g. the guidance
// scale its training run found best). Each is set or not.
struct SamplingDefaults {
  std::optional<int> n, top, top_k;
  std::optional<double> temperature, top_p, cond_scale, attribute_weight;
  std::optional<std::string> prompt_as;

  // A JSON object of those eight fields; another field, a wrong type or an out-of-range value is a FieldError
  // naming it.
  static SamplingDefaults from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;  // the fields set
};

// The one rule every front end (couture generate, eval generate, the server) follows: each setting the request
// does not state (`stated(field)`: a command line option given, a JSON field present) comes from the bundle's
// defaults. The result is validated (FieldError).
GenerateParams with_defaults(GenerateParams request, const SamplingDefaults& defaults,
                             const std::function<bool(const std::string& field)>& stated);

// Counts UTF-8 code points; invalid UTF-8 is a FieldError naming `field`.
size_t utf8_length(const std::string& text, const std::string& field);

}  // namespace couture
