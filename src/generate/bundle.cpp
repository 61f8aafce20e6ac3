#include "generate/bundle.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/safetensors.h"
#include "models/clip.h"
#include "models/dalle.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "text/kfashion_labels.h"
#include "text/wordpiece.h"

namespace couture {
namespace fs = std::filesystem;

namespace {

// A file named by model.json: a plain name inside the bundle, so a manifest can never point elsewhere.
fs::path bundle_file(const BundleManifest& m, const nlohmann::ordered_json& part, const std::string& field,
                     bool required) {
  const std::string where = (m.dir / "model.json").string() + ": field '" + field + "'";
  if (!part.contains(field)) {
    COUTURE_CHECK_INPUT(!required, where, " is missing");
    return {};
  }
  const auto& entry = part[field];
  COUTURE_CHECK_INPUT(entry.is_object() && entry.contains("file") && entry["file"].is_string(), where,
                      " must be an object with a \"file\" name");
  const std::string name = entry["file"].get<std::string>();
  COUTURE_CHECK_INPUT(!name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
                          name != "." && name != "..",
                      where, ": file '", name, "' must be a plain file name inside the bundle folder");
  const fs::path path = m.dir / name;
  COUTURE_CHECK_INPUT(!fs::is_symlink(path), where, ": ", path.string(),
                      " is a symbolic link; a bundle holds its files itself");
  COUTURE_CHECK_INPUT(fs::is_regular_file(path), where, ": ", path.string(), " does not exist");
  if (entry.contains("bytes")) {
    COUTURE_CHECK_INPUT(entry["bytes"].is_number_unsigned(), where, ".bytes must be a non-negative integer");
    const auto want = entry["bytes"].get<uint64_t>();
    const auto have = uint64_t(fs::file_size(path));
    COUTURE_CHECK_INPUT(want == have, path.string(), ": ", have, " bytes, but model.json records ", want,
                        " (truncated or replaced?)");
  }
  return path;
}

// A model file of the bundle checked whole: every tensor finite (the first that is not is named), and the config
// model.json records for it equal to the one its weights carry (which the loader builds the model from). Both are
// read by the model's own Config::from_json, so fields a newer build adds with their defaults compare equal.
template <class Config>
void check_model_file(const fs::path& model_json, const nlohmann::ordered_json& entry, const std::string& field,
                      const SafetensorsFile& weights, const Config& weights_config) {
  for (const auto& t : weights.tensors()) {
    COUTURE_CHECK_INPUT(all_finite(t), weights.source(), ": tensor '", t.name, "' holds NaN or infinity");
    weights.release(t);  // read once: the check must not hold the bundle's files in memory (peak at load)
  }
  if (!entry.contains("config")) return;
  const std::string where = model_json.string() + ": field '" + field + ".config'";
  Config recorded;
  if constexpr (std::is_same_v<Config, ClipConfig>) {
    try {
      recorded = Config::from_json(entry["config"]);
    } catch (const InputError& e) {
      throw InputError(where + ": " + e.what());
    }
  } else
    recorded = Config::from_json(nlohmann::json(entry["config"]), where);
  COUTURE_CHECK_INPUT(nlohmann::json(recorded.to_json()) == nlohmann::json(weights_config.to_json()), where,
                      " differs from the config in ", weights.source(), " (model.json edited, or the file replaced?)");
}

// `X` or `X/<stem>.safetensors` when X is a run folder.
fs::path model_file(const fs::path& source, const std::string& stem) {
  return run_file(source, stem + ".safetensors");
}

nlohmann::json run_info(const fs::path& source) {
  const fs::path run = fs::is_directory(source) ? source / "run.json" : source.parent_path() / "run.json";
  return read_json_file_or_null(run);
}

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

nlohmann::ordered_json copy_into(const fs::path& from, const fs::path& out, const std::string& name) {
  const std::string bytes = read_file(from);
  write_file_atomic(out / name, bytes);
  return {{"file", name}, {"bytes", bytes.size()}};
}

// A safetensors model file into the bundle, its matrices and kernels (F32 tensors of two or more dimensions) stored
// as BF16 when `bf16`; vectors (biases, norms, batch-norm statistics, scales) stay F32. The loaders convert back to
// the model's dtype by name, so the file loads as before, in half the bytes.
nlohmann::ordered_json copy_model_into(const fs::path& from, const fs::path& out, const std::string& name, bool bf16) {
  if (!bf16) return copy_into(from, out, name);
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;
  {
    const auto file = SafetensorsFile::open(from);
    metadata = file.metadata();
    for (const auto& view : file.tensors()) {
      at::Tensor t = to_tensor(file, view);
      if (view.dtype == DType::F32 && t.dim() >= 2) t = t.to(at::kBFloat16);
      tensors.emplace_back(view.name, t.contiguous());
    }
  }
  save_tensors(out / name, tensors, metadata);
  return {{"file", name}, {"bytes", fs::file_size(out / name)}, {"weights", "bf16"}};
}

nlohmann::ordered_json attribute_values_json(const AttributeValues& values) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& attribute : reranked_attributes())  // the usual order first
    if (auto it = values.find(attribute); it != values.end()) j[attribute] = it->second;
  for (const auto& [attribute, list] : values)
    if (!j.contains(attribute)) j[attribute] = list;
  return j;
}

}  // namespace

std::string understood_caption_for(const ParsedPrompt& parsed, const AttributeValues& learnt) {
  std::vector<std::string> attributes;
  for (const auto& [attribute, values] : learnt) attributes.push_back(attribute);
  return understood_caption(parsed, attributes);
}

AttributeValues read_attribute_values(const nlohmann::json& j, const std::string& where) {
  COUTURE_CHECK_INPUT(j.is_object(), where, " must be an object of attribute -> [values]");
  AttributeValues out;
  for (const auto& [attribute, values] : j.items()) {
    COUTURE_CHECK_INPUT(kfashion::is_known_attribute(attribute), where, ": '", attribute,
                        "' is not a K-Fashion attribute");
    COUTURE_CHECK_INPUT(values.is_array(), where, ".", attribute, " must be an array of values");
    auto& list = out[attribute];
    for (const auto& v : values) {
      COUTURE_CHECK_INPUT(v.is_string() && !v.get<std::string>().empty(), where, ".", attribute,
                          " must hold non-empty strings");
      const auto value = v.get<std::string>();
      COUTURE_CHECK_INPUT(std::find(list.begin(), list.end(), value) == list.end(), where, ".", attribute,
                          ": '", value, "' is listed twice");
      list.push_back(value);
    }
  }
  return out;
}

BundleManifest BundleManifest::load(const fs::path& dir) {
  BundleManifest m;
  m.dir = dir;
  const fs::path path = dir / "model.json";
  COUTURE_CHECK_INPUT(fs::is_directory(dir), dir.string(), ": no such model bundle folder");
  COUTURE_CHECK_INPUT(fs::is_regular_file(path), dir.string(), ": not a model bundle (no model.json)");
  COUTURE_CHECK_INPUT(!fs::is_symlink(path), path.string(), " is a symbolic link; a bundle holds its files itself");
  COUTURE_CHECK_INPUT(fs::file_size(path) <= kMaxManifestBytes, path.string(), ": ", fs::file_size(path),
                      " bytes; a model.json is at most ", kMaxManifestBytes);
  m.json = read_ordered_json_file(path);
  COUTURE_CHECK_INPUT(m.json.is_object(), path.string(), ": must be a JSON object");
  COUTURE_CHECK_INPUT(m.json.value("format", "") == kBundleFormat, path.string(), ": field 'format' must be \"",
                      kBundleFormat, "\"");
  COUTURE_CHECK_INPUT(m.json.contains("version") && m.json["version"].is_number_integer(), path.string(),
                      ": field 'version' must be an integer");
  const int version = m.json["version"].get<int>();
  COUTURE_CHECK_INPUT(version == kBundleVersion, path.string(), ": bundle version ", version,
                      " is not supported (this build reads version ", kBundleVersion, ")");
  m.name = m.json.contains("name") && m.json["name"].is_string() ? m.json["name"].get<std::string>()
                                                                  : dir.filename().string();
  m.vocab = bundle_file(m, m.json, "tokenizer", true);
  m.vqgan = bundle_file(m, m.json, "vqgan", true);
  m.dalle = bundle_file(m, m.json, "dalle", true);
  m.reranker = bundle_file(m, m.json, "reranker", false);
  if (m.json.contains("defaults")) {
    try {
      m.defaults = SamplingDefaults::from_json(m.json["defaults"]);
    } catch (const FieldError& e) {
      throw InputError(path.string() + ": field 'defaults': " + e.what());
    }
  }
  if (m.json.contains("attribute_values"))
    m.attribute_values =
        read_attribute_values(m.json["attribute_values"], path.string() + ": field 'attribute_values'");
  const auto started = std::chrono::steady_clock::now();
  const auto vqgan = SafetensorsFile::open(m.vqgan);
  check_model_file(path, m.json["vqgan"], "vqgan", vqgan, find_vqgan_config(vqgan, std::nullopt));
  const auto dalle = SafetensorsFile::open(m.dalle);
  check_model_file(path, m.json["dalle"], "dalle", dalle, dalle_config_for(dalle));
  if (!m.reranker.empty()) {
    const auto clip = SafetensorsFile::open(m.reranker);
    check_model_file(path, m.json["reranker"], "reranker", clip, clip_config_from(clip));
  }
  m.check_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return m;
}

BundleManifest write_bundle(const BundleSources& s, const fs::path& out) {
  fs::create_directories(out);
  const fs::path vqgan = model_file(s.vqgan, "vqgan"), dalle = model_file(s.dalle, "dalle");
  const fs::path vocab = run_file(s.vocab, "vocab.txt");
  const auto tokenizer = WordPieceTokenizer::load(vocab);  // refuses a bad vocabulary before anything is written

  nlohmann::ordered_json m = {{"format", kBundleFormat}, {"version", kBundleVersion}, {"name", s.name}};
  m["tokenizer"] = copy_into(vocab, out, "vocab.txt");
  m["tokenizer"]["size"] = tokenizer.vocab_size();
  m["vqgan"] = copy_model_into(vqgan, out, "vqgan.safetensors", s.bf16_weights);
  m["vqgan"]["config"] = find_vqgan_config(SafetensorsFile::open(vqgan), std::nullopt).to_json();
  m["dalle"] = copy_model_into(dalle, out, "dalle.safetensors", s.bf16_weights);
  m["dalle"]["config"] = dalle_config_for(SafetensorsFile::open(dalle)).to_json();
  nlohmann::json provenance = {{"created", now_utc()}, {"vqgan", run_info(s.vqgan)}, {"dalle", run_info(s.dalle)}};
  if (!s.reranker.empty()) {
    const fs::path clip = model_file(s.reranker, "clip");
    m["reranker"] = copy_model_into(clip, out, "clip.safetensors", s.bf16_weights);
    m["reranker"]["config"] = clip_config_from(SafetensorsFile::open(clip)).to_json();
    provenance["reranker"] = run_info(s.reranker);
  }
  m["defaults"] = s.defaults.to_json();
  if (!s.attribute_values.empty()) m["attribute_values"] = attribute_values_json(s.attribute_values);
  provenance.update(s.extra_provenance);
  m["provenance"] = provenance;
  write_file_atomic(out / "model.json", m.dump(2) + "\n");
  return BundleManifest::load(out);
}

BundleManifest update_bundle(const fs::path& dir, const SamplingDefaults& defaults,
                             const AttributeValues& attribute_values, const nlohmann::json& note) {
  BundleManifest m = BundleManifest::load(dir);  // refuses a broken bundle before anything changes
  nlohmann::ordered_json j = m.json;
  nlohmann::ordered_json merged = m.defaults.to_json();
  const nlohmann::json given = defaults.to_json();  // items() would dangle on a temporary
  for (const auto& [key, value] : given.items()) merged[key] = value;
  j["defaults"] = merged;
  if (!attribute_values.empty()) {
    // model.json keeps its field order: attribute_values right after defaults.
    nlohmann::ordered_json reordered;
    for (const auto& [key, value] : j.items()) {
      if (key == "attribute_values") continue;
      reordered[key] = value;
      if (key == "defaults") reordered["attribute_values"] = attribute_values_json(attribute_values);
    }
    j = std::move(reordered);
  }
  if (!j.contains("provenance") || !j["provenance"].is_object()) j["provenance"] = nlohmann::ordered_json::object();
  auto& updates = j["provenance"]["updates"];
  if (!updates.is_array()) updates = nlohmann::ordered_json::array();
  nlohmann::ordered_json entry = {{"updated", now_utc()}};
  for (const auto& [key, value] : note.items()) entry[key] = value;
  updates.push_back(entry);
  write_file_atomic(dir / "model.json", j.dump(2) + "\n");
  return BundleManifest::load(dir);
}

}  // namespace couture
