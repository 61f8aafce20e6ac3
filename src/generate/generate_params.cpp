#include "generate/generate_params.h"

#include <cmath>
#include <limits>

#include "core/base64.h"
#include "io/image.h"
#include "text/unicode.h"

namespace couture {
namespace {

using json = nlohmann::json;

// JSON text that shows what the client sent, for messages: never the whole of a long value, and never a walk
// through a deeply nested one.
std::string shown(const json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() <= 40) return text;
  size_t cut = 36;
  while (cut > 0 && utf8::is_continuation_byte(static_cast<unsigned char>(text[cut]))) --cut;
  return text.substr(0, cut) + "..." + (value.is_string() ? "\"" : "");
}

// Integers only: 4.0 or "4" are a type error, not silently converted.
int64_t get_int(const json& value, const std::string& field, int64_t lo, int64_t hi) {
  std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  bool in_range = value.is_number_unsigned() ? value.get<uint64_t>() <= uint64_t(hi)
                  : value.is_number_integer() ? value.get<int64_t>() >= lo && value.get<int64_t>() <= hi
                                              : false;
  if (!value.is_number_integer()) throw FieldError(field, field + " must be an integer " + range + ", got " + shown(value));
  if (!in_range) throw FieldError(field, field + " must be " + range + ", got " + shown(value));
  return value.get<int64_t>();
}

double get_number(const json& value, const std::string& field) {
  if (!value.is_number()) throw FieldError(field, field + " must be a number, got " + shown(value));
  double v = value.get<double>();
  if (!std::isfinite(v)) throw FieldError(field, field + " must be finite, got " + shown(value));
  return v;
}

void check_range(double v, bool ok, const std::string& field, const std::string& range) {
  if (!ok) throw FieldError(field, field + " must be " + range + ", got " + shown(json(v)));
}

}  // namespace

size_t utf8_length(const std::string& text, const std::string& field) {
  if (!utf8::is_valid(text)) throw FieldError(field, field + " is not valid UTF-8");
  return utf8::count_chars(text);
}

namespace {

// A caption's length and characters (the prompt's rules); true when it is blank.
bool check_caption(const std::string& text, const std::string& field) {
  size_t chars = utf8_length(text, field);
  if (chars > size_t(kMaxPromptChars))
    throw FieldError(field, field + " has " + std::to_string(chars) + " characters; at most " +
                                std::to_string(kMaxPromptChars) + " are allowed");
  bool blank = true;
  for (size_t i = 0; i < text.size();) {
    char32_t cp = utf8::next(text, i);
    // Control characters have no place in a caption and would corrupt logs and PNG text; tabs and line breaks
    // are spacing.
    if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F)
      throw FieldError(field, field + " contains the control character U+" + [&] {
        char hex[8];
        std::snprintf(hex, sizeof hex, "%04X", unsigned(cp));
        return std::string(hex);
      }());
    if (cp != ' ' && cp != '\t' && cp != '\n' && cp != '\r') blank = false;
  }
  return blank;
}

}  // namespace

void GenerateParams::validate(bool merged) const {
  if (check_caption(prompt, "prompt"))
    throw FieldError("prompt", "prompt is empty; describe the garment (e.g. 상의에서 색상은 레드이다.)");
  if (!negative_prompt.empty()) {
    check_caption(negative_prompt, "negative_prompt");
    if (merged && cond_scale == 1.0)
      throw FieldError("negative_prompt", "negative_prompt steers guidance: give a cond_scale other than 1");
  }

  auto int_range = [](int v, int lo, int hi, const char* field) {
    if (v < lo || v > hi)
      throw FieldError(field, std::string(field) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) +
                                  ", got " + std::to_string(v));
  };
  int_range(n, 1, kMaxCandidates, "n");
  int_range(top, 1, n, "top");
  int_range(top_k, 0, kMaxTopK, "top_k");
  check_range(temperature, std::isfinite(temperature) && temperature > 0 && temperature <= kMaxTemperature,
              "temperature", "above 0 and at most " + shown(json(kMaxTemperature)));
  check_range(top_p, std::isfinite(top_p) && top_p > 0 && top_p <= 1, "top_p", "above 0 and at most 1");
  check_range(cond_scale, std::isfinite(cond_scale) && cond_scale >= 0 && cond_scale <= kMaxCondScale, "cond_scale",
              "0.." + shown(json(kMaxCondScale)));
  check_range(attribute_weight,
              std::isfinite(attribute_weight) && attribute_weight >= 0 && attribute_weight <= kMaxAttributeWeight,
              "attribute_weight", "0.." + shown(json(kMaxAttributeWeight)));
  if (prompt_as != kPromptAsTyped && prompt_as != kPromptAsUnderstood)
    throw FieldError("prompt_as", "prompt_as must be \"typed\" or \"understood\", got " + shown(json(prompt_as)));
  if (init_codes.size() > kMaxInitCodes)
    throw FieldError("init_codes", "init_codes has " + std::to_string(init_codes.size()) + " codes; at most " +
                                       std::to_string(kMaxInitCodes) + " are allowed");
  for (size_t i = 0; i < init_codes.size(); ++i)
    if (init_codes[i] < 0)
      throw FieldError("init_codes", "init_codes[" + std::to_string(i) + "] is negative: " +
                                         std::to_string(init_codes[i]));
  if (init_image && !init_codes.empty())
    throw FieldError("init_image", "give init_image or init_codes, not both");
  // With an image, its codes are counted by the generator (the bundle's code grid), which also caps this.
  int_range(num_init_codes, 0, init_image ? int(kMaxInitCodes) : int(init_codes.size()), "num_init_codes");
}

json GenerateParams::settings_json() const {
  json j = {{"n", n},         {"top", top},     {"seed", seed},           {"temperature", temperature},
            {"top_k", top_k}, {"top_p", top_p}, {"cond_scale", cond_scale}, {"attribute_weight", attribute_weight}};
  if (!negative_prompt.empty()) j["negative_prompt"] = negative_prompt;
  if (prompt_as != kPromptAsTyped) j["prompt_as"] = prompt_as;  // absent: typed (records made before it existed)
  if (!init_codes.empty()) {
    j["init_codes_given"] = init_codes.size();
    j["num_init_codes"] = num_init_codes;
  }
  if (init_image) {
    j["init_image_given"] = std::to_string(init_image->width) + "x" + std::to_string(init_image->height);
    j["num_init_codes"] = num_init_codes;
  }
  return j;
}

json GenerateParams::to_json() const {
  json j = settings_json();
  j.erase("init_codes_given");
  j.erase("init_image_given");
  j["prompt"] = prompt;
  if (!init_codes.empty()) j["init_codes"] = init_codes;
  return j;
}

GenerateParams GenerateParams::from_json(const json& j, bool validate) {
  if (!j.is_object()) throw FieldError("", "the request must be a JSON object, got " + shown(j));
  GenerateParams p;
  for (const auto& [key, value] : j.items()) {
    if (key == "prompt") {
      if (!value.is_string()) throw FieldError(key, "prompt must be a string, got " + shown(value));
      p.prompt = value.get<std::string>();
    } else if (key == "negative_prompt") {
      if (!value.is_string()) throw FieldError(key, "negative_prompt must be a string, got " + shown(value));
      p.negative_prompt = value.get<std::string>();
    } else if (key == "n") {
      p.n = int(get_int(value, key, 1, kMaxCandidates));
    } else if (key == "top") {
      p.top = int(get_int(value, key, 1, kMaxCandidates));
    } else if (key == "seed") {
      if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0))
        throw FieldError(key, "seed must be an integer 0..18446744073709551615, got " + shown(value));
      p.seed = value.get<uint64_t>();
    } else if (key == "temperature") {
      p.temperature = get_number(value, key);
    } else if (key == "top_k") {
      p.top_k = int(get_int(value, key, 0, kMaxTopK));
    } else if (key == "top_p") {
      p.top_p = get_number(value, key);
    } else if (key == "cond_scale") {
      p.cond_scale = get_number(value, key);
    } else if (key == "attribute_weight") {
      p.attribute_weight = get_number(value, key);
    } else if (key == "prompt_as") {
      if (!value.is_string())
        throw FieldError(key, "prompt_as must be \"typed\" or \"understood\", got " + shown(value));
      p.prompt_as = value.get<std::string>();
    } else if (key == "init_codes") {
      if (!value.is_array()) throw FieldError(key, "init_codes must be an array of integers, got " + shown(value));
      if (value.size() > kMaxInitCodes)
        throw FieldError(key, "init_codes has " + std::to_string(value.size()) + " codes; at most " +
                                  std::to_string(kMaxInitCodes) + " are allowed");
      for (size_t i = 0; i < value.size(); ++i)
        p.init_codes.push_back(get_int(value[i], "init_codes[" + std::to_string(i) + "]", 0,
                                       std::numeric_limits<int32_t>::max()));
    } else if (key == "num_init_codes") {
      p.num_init_codes = int(get_int(value, key, 0, int64_t(kMaxInitCodes)));
    } else if (key == "init_image") {
      if (!value.is_string()) throw FieldError(key, "init_image must be a base64 PNG or JPEG, got " + shown(value));
      const auto bytes = base64_decode(value.get_ref<const std::string&>());
      if (!bytes) throw FieldError(key, "init_image is not base64 (a PNG or JPEG, or a data: URL of one)");
      try {
        p.init_image = std::make_shared<const Image>(decode_image(reinterpret_cast<const uint8_t*>(bytes->data()),
                                                                  bytes->size(), "init_image", 3, kMaxInitImageSide));
      } catch (const InputError& e) {
        throw FieldError(key, e.what());
      }
    } else {
      std::string name = shown(json(key));
      throw FieldError(name.substr(1, name.size() - 2),
                       "unknown field " + name + "; the fields are prompt, negative_prompt, n, top, seed, "
                       "temperature, top_k, top_p, cond_scale, attribute_weight, prompt_as, init_codes, "
                       "num_init_codes, init_image");
    }
  }
  if (validate) p.validate();
  return p;
}

namespace {

// The eight fields of SamplingDefaults, by name, once.
template <class F>
void for_each_default(SamplingDefaults& d, GenerateParams& p, F&& f) {
  f("n", d.n, p.n);
  f("top", d.top, p.top);
  f("top_k", d.top_k, p.top_k);
  f("temperature", d.temperature, p.temperature);
  f("top_p", d.top_p, p.top_p);
  f("cond_scale", d.cond_scale, p.cond_scale);
  f("attribute_weight", d.attribute_weight, p.attribute_weight);
  f("prompt_as", d.prompt_as, p.prompt_as);
}

}  // namespace

SamplingDefaults SamplingDefaults::from_json(const json& j) {
  if (!j.is_object()) throw FieldError("defaults", "defaults must be a JSON object, got " + shown(j));
  SamplingDefaults d;
  GenerateParams parsed = GenerateParams::from_json(j, /*validate=*/false);  // types and ranges, field by field
  std::string names;
  size_t known = 0;
  for_each_default(d, parsed, [&](const char* name, auto& slot, const auto& value) {
    if (j.contains(name)) slot = value, ++known;
    names += (names.empty() ? "" : ", ") + std::string(name);
  });
  if (known != j.size()) {  // a request's own field (prompt, seed, init codes): say which one
    const json set = d.to_json();
    for (const auto& [key, value] : j.items())
      if (!set.contains(key)) throw FieldError(key, "'" + key + "' cannot be a default; the defaults are " + names);
  }
  return d;
}

json SamplingDefaults::to_json() const {
  json j = json::object();
  SamplingDefaults d = *this;
  GenerateParams unused;
  for_each_default(d, unused, [&](const char* name, const auto& slot, const auto&) {
    if (slot) j[name] = *slot;
  });
  return j;
}

GenerateParams with_defaults(GenerateParams request, const SamplingDefaults& defaults,
                             const std::function<bool(const std::string& field)>& stated) {
  SamplingDefaults d = defaults;
  for_each_default(d, request, [&](const char* name, const auto& slot, auto& value) {
    if (slot && !stated(name)) value = *slot;
  });
  request.validate();
  return request;
}

}  // namespace couture
