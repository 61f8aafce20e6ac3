#include "serve/studio_config.h"

#include <algorithm>

#include "text/caption.h"
#include "text/fmnist_vocabulary.h"
#include "text/kfashion_labels.h"
#include "text/lexicon.h"

namespace couture {

using json = nlohmann::json;

namespace {

// Categories by the part they are worn as: the bundle's (parts from the lexicon; 상의 when it does not say), else
// Couture-FMNIST's classes. Parts in first-seen order.
std::vector<std::pair<std::string, json>> categories_by_part(const AttributeValues& known) {
  std::vector<std::pair<std::string, json>> out;
  auto add = [&](const std::string& part, const std::string& category) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == part; });
    if (it == out.end()) it = out.insert(out.end(), {part, json::array()});
    it->second.push_back(category);
  };
  if (auto it = known.find("카테고리"); it != known.end()) {
    for (const auto& category : it->second) {
      const std::string part = default_lexicon().part_of(category);
      add(part.empty() ? "상의" : part, category);
    }
  } else {
    for (const auto& garment : fmnist_garment_classes()) add(garment.part, garment.category);
  }
  return out;
}

// The studio's pickers, in K-Fashion's label order: the bundle's values (model.json "attribute_values"), else
// Couture-FMNIST's vocabulary (the default model's), for colours, categories and prints; the lexicon's K-Fashion
// values for the rest. Each carries its caption sentence with {part} and {value} left to fill, written by the caption
// code (so with its 은/는/에는), and the value it starts at (the first offered when the usual one is not).
json studio_pickers(const AttributeValues& known) {
  json colours = json::array(), categories = json::object(), prints = json(fmnist_prints());
  if (auto it = known.find("색상"); it != known.end()) colours = it->second;
  else
    for (const auto& colour : fmnist_palette()) colours.push_back(colour.name);
  if (auto it = known.find("프린트"); it != known.end()) prints = it->second;
  for (const auto& [part, values] : categories_by_part(known)) categories[part] = values;
  auto initial = [](const json& values, const char* usual) {
    return std::find(values.begin(), values.end(), usual) != values.end() || values.empty()
               ? std::string(usual) : values[0].get<std::string>();
  };
  const std::string red = initial(colours, "레드"), white = initial(colours, "화이트"),
                    stripe = initial(prints, "스트라이프");
  const Lexicon& lexicon = default_lexicon();
  struct Picker {
    const char* attribute;
    json values;
    std::string initial;
  };
  const Picker table[] = {
      {"기장", lexicon.values("기장"), ""},         {"색상", colours, red},
      {"서브색상", colours, white},                 {"카테고리", categories, ""},
      {"소매기장", lexicon.values("소매기장"), ""}, {"프린트", prints, stripe},
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

json limits_json(size_t max_body_bytes, size_t max_upload_bytes) {
  return {{"max_prompt_chars", kMaxPromptChars}, {"max_n", kMaxCandidates},  {"max_temperature", kMaxTemperature},
          {"max_top_k", kMaxTopK},               {"max_cond_scale", kMaxCondScale},
          {"max_attribute_weight", kMaxAttributeWeight}, {"max_body_bytes", max_body_bytes},
          {"max_upload_bytes", max_upload_bytes},        {"max_init_image_side", kMaxInitImageSide}};
}

// GET /v1/config: what a client needs to build requests, and the studio's pickers (docs/serve.md).
json studio_config(const SamplingDefaults& defaults, size_t max_body_bytes, size_t max_upload_bytes,
                   const AttributeValues& known) {
  json settings = GenerateParams{}.settings_json();
  settings.erase("seed");
  settings.update(defaults.to_json());  // the bundle's choices over GenerateParams' own
  json palette = json::object(), parts = json::array();
  for (const auto& colour : fmnist_palette()) palette[colour.name] = hex_colour(colour);
  for (const auto& [part, values] : categories_by_part(known)) parts.push_back(part);
  return {{"limits", limits_json(max_body_bytes, max_upload_bytes)},
          {"defaults", settings},
          {"palette", palette},
          {"parts", parts},
          {"pickers", studio_pickers(known)}};
}

}  // namespace couture
