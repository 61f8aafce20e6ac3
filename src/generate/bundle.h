// A model bundle: the folder `couture generate`, the server and the evaluation load. model.json names the files (plain
// names inside the folder, never paths) and records how they were made:
//   {"format": "couture-bundle", "version": 1, "name": "default",
//    "tokenizer": {"file": "vocab.txt", "size": 233},
//    "vqgan": {"file": "vqgan.safetensors", "bytes": N, "config": {...}},
//    "dalle": {"file": "dalle.safetensors", "bytes": N, "config": {...}},
//    "reranker": {"file": "clip.safetensors", "bytes": N, "config": {...}},
//    "defaults": {"n": 16, "top": 4, ...},           (GenerateParams fields a request does not set)
//    "attribute_values": {"카테고리": [...], "색상": [...], "프린트": [...]},  (what the models learnt; optional)
//    "provenance": {"vqgan": run.json, "dalle": ..., "reranker": ..., "created": ...}}
// docs/formats.md describes it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "generate/attribute_rerank.h"
#include "generate/generate_params.h"

namespace couture {

inline constexpr const char* kBundleFormat = "couture-bundle";
inline constexpr int kBundleVersion = 1;
inline constexpr uintmax_t kMaxManifestBytes = 1 << 20;  // model.json: a few KB in practice

struct BundleManifest {
  std::filesystem::path dir;
  std::string name;
  std::filesystem::path vocab, vqgan, dalle, reranker;  // inside dir
  nlohmann::ordered_json json;                          // the whole model.json

  SamplingDefaults defaults;  // model.json "defaults" (none set when absent), checked by load
  // model.json "attribute_values" (empty when absent): the values of each attribute the training data held, which
  // attribute reranking chooses among and the studio's pickers offer.
  AttributeValues attribute_values;
  double check_seconds = 0;   // what load spent checking the model files whole

  // Reads DIR/model.json and checks the bundle whole before anything serves from it: format, version, field types,
  // size (kMaxManifestBytes); every named file a plain name, not a symbolic link, that exists with the recorded
  // size; every weight finite; each model's config in model.json equal to the one in its weights; the defaults by
  // the request rules. InputError naming the file and field (or tensor) otherwise.
  static BundleManifest load(const std::filesystem::path& dir);
};

// model.json "attribute_values" (also in a generator's describe()): {attribute: [distinct non-empty values]} for
// known K-Fashion attributes; InputError starting with `where` otherwise.
AttributeValues read_attribute_values(const nlohmann::json& j, const std::string& where);

// What prompt_as "understood" has a bundle's models read: understood_caption (text/prompt_parse.h) keeping the
// attributes its attribute_values names (every attribute when it names none). The generator and the server's
// /v1/understand both call it, so that the studio shows what the models will read.
std::string understood_caption_for(const ParsedPrompt& parsed, const AttributeValues& learnt);

// What `couture bundle` puts together: run folders (or files) of each model and the vocabulary.
struct BundleSources {
  std::filesystem::path vocab, vqgan, dalle, reranker;
  std::string name = "default";
  SamplingDefaults defaults;
  AttributeValues attribute_values;  // written when not empty
  bool bf16_weights = false;  // store the models' matrices and kernels as BF16 (vectors stay F32): half the bytes
  nlohmann::json extra_provenance = nlohmann::json::object();  // e.g. the dataset and commands of a script
};

// Copies the model files into `out` (atomically, each file), writes model.json last, and checks the result loads.
// A run folder X stands for X/<model>.safetensors; its run.json goes into the provenance.
BundleManifest write_bundle(const BundleSources& sources, const std::filesystem::path& out);

// Changes an existing bundle's model.json only (its weights stay as they are): `defaults` are merged into the
// recorded ones, `attribute_values` replace them when not empty, and the change is noted in the provenance. The
// file is replaced atomically and the bundle checked whole again.
BundleManifest update_bundle(const std::filesystem::path& dir, const SamplingDefaults& defaults,
                             const AttributeValues& attribute_values, const nlohmann::json& note);

}  // namespace couture
