#include "serve/studio_config.h"

#include <algorithm>

#include "text/caption.h"
#include "text/fmnist_vocabulary.h"
#include "text/kfashion_labels.h"
#include "text/lexicon.h"

namespace couture {

using json = nlohmann::json;

namespace {

// The studio's pickers, in K-Fashion's label order: Couture-FMNIST's vocabulary (the default model's) for colours,
// categories and prints, the lexicon's K-Fashion values for the rest. Each carries its caption sentence with
// {part} and {value} left to fill, written by the caption code (so with its 은/는/에는), and the value it starts at.
json studio_pickers() {
  json colours = json::array(), categories = json::object();
  for (const auto& colour : fmnist_palette()) colours.push_back(colour.name);
  for (const auto& garment : fmnist_garment_classes()) categories[garment.part].push_back(garment.category);
  const Lexicon& lexicon = default_lexicon();
  struct Picker {
    const char* attribute;
    json values;
    const char* initial;
  };
  const Picker table[] = {
      {"기장", lexicon.values("기장"), ""},         {"색상", colours, "레드"},
      {"서브색상", colours, "화이트"},              {"카테고리", categories, ""},
      {"소매기장", lexicon.values("소매기장"), ""}, {"프린트", fmnist_prints(), "스트라이프"},
      {"넥라인", lexicon.values("넥라인"), ""},     {"핏", lexicon.values("핏"), ""},
  };
  json pickers = json::array();
  for (const auto& p : table) {
    kfashion::Attribute placeholder{p.attribute, {"{value}"}, kfashion::is_list_attribute(p.attribute)};
    json picker = {{"attribute", p.attribute},
                   {"sentence", kfashion::attribute_sentence("{part}", placeholder, kfashion::CaptionCompat::couture)},
                   {"initial", p.initial},
                   {"required", p.values.is_object()},  // a garment always has a category
                   {"swatches", p.values == colours}};  // colour pickers show the colour
    picker[p.values.is_object() ? "values_by_part" : "values"] = p.values;
    pickers.push_back(picker);
  }
  return pickers;
}

}  // namespace

json limits_json(size_t max_body_bytes) {
  return {{"max_prompt_chars", kMaxPromptChars}, {"max_n", kMaxCandidates},  {"max_temperature", kMaxTemperature},
          {"max_top_k", kMaxTopK},               {"max_cond_scale", kMaxCondScale}, {"max_body_bytes", max_body_bytes}};
}

// GET /v1/config: what a client needs to build requests, and the studio's pickers (docs/serve.md).
json studio_config(const SamplingDefaults& defaults, size_t max_body_bytes) {
  json settings = GenerateParams{}.settings_json();
  settings.erase("seed");
  settings.update(defaults.to_json());  // the bundle's choices over GenerateParams' own
  json palette = json::object(), parts = json::array();
  for (const auto& colour : fmnist_palette()) palette[colour.name] = hex_colour(colour);
  for (const auto& garment : fmnist_garment_classes())
    if (std::find(parts.begin(), parts.end(), garment.part) == parts.end()) parts.push_back(garment.part);
  return {{"limits", limits_json(max_body_bytes)},
          {"defaults", settings},
          {"palette", palette},
          {"parts", parts},
          {"pickers", studio_pickers()}};
}

}  // namespace couture
