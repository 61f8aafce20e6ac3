#include "models/text_import.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "text/wordpiece.h"

namespace couture {
namespace {
namespace fs = std::filesystem;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "roberta.", "bert." or "": whichever prefix the checkpoint's word embeddings carry.
std::string find_prefix(const SafetensorsFile& file) {
  for (const char* prefix : {"roberta.", "bert.", ""}) {
    if (file.find(std::string(prefix) + "embeddings.word_embeddings.weight")) return prefix;
  }
  throw InputError("'" + file.source() +
                   "' has no embeddings.word_embeddings.weight (with or without a roberta./bert. prefix): "
                   "not a RoBERTa/BERT checkpoint");
}

const TensorView& matrix(const SafetensorsFile& file, const std::string& name) {
  const auto& t = file.at(name);
  COUTURE_CHECK_INPUT(t.shape.size() == 2, "'", file.source(), "': tensor '", name, "' has shape ",
                      shape_text(t.shape), ", expected a matrix [rows, dim]");
  COUTURE_CHECK_INPUT(t.dtype == DType::F32 || t.dtype == DType::F16 ||
                          t.dtype == DType::BF16,
                      "'", file.source(), "': tensor '", name, "' is ", dtype_name(t.dtype),
                      ", expected floating point");
  COUTURE_CHECK_INPUT(all_finite(t), "'", file.source(), "': tensor '", name, "' holds NaN or infinity");
  return t;
}

// The Hugging Face config.json beside the model, or --config: its sizes must agree with the tensors.
void check_config(const fs::path& path, int64_t vocab_rows, int64_t position_rows, int64_t dim) {
  const auto cfg = read_json_file(path);
  COUTURE_CHECK_INPUT(cfg.is_object(), "'", path.string(), "': not a JSON object");
  for (auto [key, actual] : {std::pair{"vocab_size", vocab_rows}, std::pair{"max_position_embeddings", position_rows},
                             std::pair{"hidden_size", dim}}) {
    if (!cfg.contains(key)) continue;
    COUTURE_CHECK_INPUT(cfg[key].is_number_integer() && cfg[key].get<int64_t>() == actual, "'", path.string(),
                        "': ", key, " is ", cfg[key].dump(), " but the checkpoint's tensors say ", actual);
  }
}

at::Tensor as_float(const SafetensorsFile& file, const TensorView& view) {
  return to_tensor(file, view).to(at::kFloat).contiguous();
}

}  // namespace

TextImportReport import_text_embeddings(const TextImportOptions& o) {
  const auto file = SafetensorsFile::open(o.from);
  const std::string prefix = find_prefix(file);
  const std::string word_name = prefix + "embeddings.word_embeddings.weight";
  const std::string pos_name = prefix + "embeddings.position_embeddings.weight";
  const auto& word = matrix(file, word_name);
  const auto& pos = matrix(file, pos_name);
  const int64_t rows = word.shape[0], dim = word.shape[1], positions = pos.shape[0];
  COUTURE_CHECK_INPUT(pos.shape[1] == dim, "'", o.from.string(), "': ", pos_name, " has shape ", shape_text(pos.shape),
                      " but ", word_name, " has width ", dim);
  COUTURE_CHECK_INPUT(o.dim == 0 || dim == o.dim, "'", o.from.string(), "': the embeddings are ", dim,
                      " wide, but --dim asks for ", o.dim);

  const auto tokenizer = WordPieceTokenizer::load(o.vocab);
  COUTURE_CHECK_INPUT(int64_t(tokenizer.vocab_size()) == rows, "'", o.from.string(), "': ", word_name, " has ", rows,
                      " rows, but the vocabulary '", o.vocab.string(), "' has ", tokenizer.vocab_size(), " tokens");

  const fs::path config = o.config.empty() ? o.from.parent_path() / "config.json" : o.config;
  if (!o.config.empty() || fs::is_regular_file(config)) check_config(config, rows, positions, dim);

  const int64_t needed = o.text_seq_len + 1;  // BOS + text_seq_len text positions
  const int64_t keep = o.position_rows ? o.position_rows : positions;
  COUTURE_CHECK_INPUT(positions >= needed, "'", o.from.string(), "': ", pos_name, " has ", positions,
                      " rows, fewer than text_seq_len + 1 = ", needed);
  COUTURE_CHECK_INPUT(keep >= needed && keep <= positions, "--position-rows ", keep, " must lie in ", needed, "..",
                      positions);

  const std::map<std::string, std::string> metadata = {
      {"format", "couture-text-init"},
      {"source", o.from.string()},
      {"vocab", o.vocab.string()},
      {"vocab_size", std::to_string(rows)},
      {"dim", std::to_string(dim)},
      {"text_seq_len", std::to_string(o.text_seq_len)},
      {"reference", "KR-HappyFace/KoDALLE DALLE_Klue_Roberta: text_emb = word embeddings, text_pos_emb = positions"}};
  save_tensors(o.out,
                        {{"text_emb.weight", as_float(file, word)},
                         {"text_pos_emb.weight", as_float(file, pos).slice(0, 0, keep).contiguous()}},
                        metadata);
  TextImportReport report{.rows = rows, .dim = dim, .positions = keep, .prefix = prefix};

  if (o.encoder.empty()) return report;
  NamedTensors encoder;
  for (const auto& t : file.tensors()) {
    if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string name = t.name.substr(prefix.size());
    const bool wanted = name.starts_with("embeddings.") || name.starts_with("encoder.layer.");
    const bool weights = t.dtype == DType::F32 || t.dtype == DType::F16 ||
                         t.dtype == DType::BF16;
    if (!wanted || !weights) continue;  // integer buffers (position_ids, token_type_ids) are not weights
    COUTURE_CHECK_INPUT(all_finite(t), "'", o.from.string(), "': tensor '", t.name, "' holds NaN or infinity");
    encoder.emplace_back(name, as_float(file, t));
  }
  const bool has_layers = std::any_of(encoder.begin(), encoder.end(),
                                      [](const auto& e) { return e.first.starts_with("encoder.layer."); });
  COUTURE_CHECK_INPUT(has_layers, "'", o.from.string(), "' has no ", prefix, "encoder.layer.* tensors for --encoder");
  auto encoder_metadata = metadata;
  encoder_metadata["format"] = "couture-text-encoder";
  encoder_metadata.erase("reference");
  save_tensors(o.encoder, encoder, encoder_metadata);
  report.encoder_tensors = encoder.size();
  return report;
}

}  // namespace couture
