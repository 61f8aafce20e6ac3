// couture text import --from model.safetensors --vocab vocab.txt --out text_init.safetensors: KoDALLE's text side
// from a pretrained RoBERTa/BERT (e.g. klue/roberta-large). KoDALLE's DALLE_Klue_Roberta loads the language model's
// word embeddings as `text_emb` (vocabulary rows, so text_emb has num_text_tokens = vocab rows, not vocab +
// text_seq_len) and its position table as `text_pos_emb`, indexed 0..text_seq_len directly (BOS + the text).
// With --encoder FILE the whole text encoder (embeddings.*, encoder.layer.N.*) is also written, prefix stripped,
// for the CLIP reranker's text tower.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "text/wordpiece.h"

namespace {
namespace fs = std::filesystem;

struct TextImportOptions {
  std::string from, vocab, out, config, encoder;
  int64_t text_seq_len = 64, dim = 0, position_rows = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "roberta.", "bert." or "": whichever prefix the checkpoint's word embeddings carry.
std::string find_prefix(const couture::SafetensorsFile& file) {
  for (const char* prefix : {"roberta.", "bert.", ""}) {
    if (file.find(std::string(prefix) + "embeddings.word_embeddings.weight")) return prefix;
  }
  throw couture::InputError("'" + file.source() +
                            "' has no embeddings.word_embeddings.weight (with or without a roberta./bert. prefix): "
                            "not a RoBERTa/BERT checkpoint");
}

const couture::TensorView& matrix(const couture::SafetensorsFile& file, const std::string& name) {
  const auto& t = file.at(name);
  COUTURE_CHECK_INPUT(t.shape.size() == 2, "'", file.source(), "': tensor '", name, "' has shape ",
                      shape_text(t.shape), ", expected a matrix [rows, dim]");
  COUTURE_CHECK_INPUT(t.dtype == couture::DType::F32 || t.dtype == couture::DType::F16 ||
                          t.dtype == couture::DType::BF16,
                      "'", file.source(), "': tensor '", name, "' is ", couture::dtype_name(t.dtype),
                      ", expected floating point");
  COUTURE_CHECK_INPUT(couture::all_finite(t), "'", file.source(), "': tensor '", name, "' holds NaN or infinity");
  return t;
}

// The Hugging Face config.json beside the model, or --config: its sizes must agree with the tensors.
void check_config(const fs::path& path, int64_t vocab_rows, int64_t position_rows, int64_t dim) {
  const auto cfg = nlohmann::json::parse(couture::read_file(path), nullptr, false);
  COUTURE_CHECK_INPUT(!cfg.is_discarded() && cfg.is_object(), "'", path.string(), "': not a JSON object");
  for (auto [key, actual] : {std::pair{"vocab_size", vocab_rows}, std::pair{"max_position_embeddings", position_rows},
                             std::pair{"hidden_size", dim}}) {
    if (!cfg.contains(key)) continue;
    COUTURE_CHECK_INPUT(cfg[key].is_number_integer() && cfg[key].get<int64_t>() == actual, "'", path.string(),
                        "': ", key, " is ", cfg[key].dump(), " but the checkpoint's tensors say ", actual);
  }
}

at::Tensor as_float(const couture::SafetensorsFile& file, const couture::TensorView& view) {
  return couture::to_tensor(file, view).to(at::kFloat).contiguous();
}

}  // namespace

COUTURE_COMMAND("text import", "Make the DALL-E's text embeddings from a pretrained RoBERTa/BERT checkpoint") {
  static TextImportOptions o;
  cmd.add_option("--from", o.from, "The language model's model.safetensors")->required();
  cmd.add_option("--vocab", o.vocab, "Its vocabulary: vocab.txt, tokenizer.json or their folder")->required();
  cmd.add_option("--out", o.out, "Output safetensors: text_emb.weight and text_pos_emb.weight")->required();
  cmd.add_option("--config", o.config, "The model's config.json (default: config.json beside --from, if any)");
  cmd.add_option("--text-seq-len", o.text_seq_len, "The DALL-E's text length; needs text_seq_len + 1 positions")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--dim", o.dim, "Expected embedding width (0: any)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--position-rows", o.position_rows, "Keep only the first N position rows (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--encoder", o.encoder, "Also write the whole text encoder here, for the CLIP text tower");
  cmd.callback([] {
    const auto file = couture::SafetensorsFile::open(o.from);
    const std::string prefix = find_prefix(file);
    const std::string word_name = prefix + "embeddings.word_embeddings.weight";
    const std::string pos_name = prefix + "embeddings.position_embeddings.weight";
    const auto& word = matrix(file, word_name);
    const auto& pos = matrix(file, pos_name);
    const int64_t rows = word.shape[0], dim = word.shape[1], positions = pos.shape[0];
    COUTURE_CHECK_INPUT(pos.shape[1] == dim, "'", o.from, "': ", pos_name, " has shape ", shape_text(pos.shape),
                        " but ", word_name, " has width ", dim);
    COUTURE_CHECK_INPUT(o.dim == 0 || dim == o.dim, "'", o.from, "': the embeddings are ", dim,
                        " wide, but --dim asks for ", o.dim);

    const auto tokenizer = couture::WordPieceTokenizer::load(o.vocab);
    COUTURE_CHECK_INPUT(int64_t(tokenizer.vocab_size()) == rows, "'", o.from, "': ", word_name, " has ", rows,
                        " rows, but the vocabulary '", o.vocab, "' has ", tokenizer.vocab_size(), " tokens");

    fs::path config = o.config.empty() ? fs::path(o.from).parent_path() / "config.json" : fs::path(o.config);
    if (!o.config.empty() || fs::is_regular_file(config)) check_config(config, rows, positions, dim);

    const int64_t needed = o.text_seq_len + 1;  // BOS + text_seq_len text positions
    const int64_t keep = o.position_rows ? o.position_rows : positions;
    COUTURE_CHECK_INPUT(positions >= needed, "'", o.from, "': ", pos_name, " has ", positions,
                        " rows, fewer than text_seq_len + 1 = ", needed);
    COUTURE_CHECK_INPUT(keep >= needed && keep <= positions, "--position-rows ", keep, " must lie in ", needed, "..",
                        positions);

    const std::map<std::string, std::string> metadata = {
        {"format", "couture-text-init"},
        {"source", o.from},
        {"vocab", o.vocab},
        {"vocab_size", std::to_string(rows)},
        {"dim", std::to_string(dim)},
        {"text_seq_len", std::to_string(o.text_seq_len)},
        {"reference", "KR-HappyFace/KoDALLE DALLE_Klue_Roberta: text_emb = word embeddings, text_pos_emb = positions"}};
    couture::save_tensors(o.out,
                          {{"text_emb.weight", as_float(file, word)},
                           {"text_pos_emb.weight", as_float(file, pos).slice(0, 0, keep).contiguous()}},
                          metadata);
    std::printf("%s: text_emb.weight [%lld, %lld], text_pos_emb.weight [%lld, %lld] from %s (prefix '%s')\n",
                o.out.c_str(), (long long)rows, (long long)dim, (long long)keep, (long long)dim, o.from.c_str(),
                prefix.c_str());

    if (o.encoder.empty()) return;
    couture::NamedTensors encoder;
    for (const auto& t : file.tensors()) {
      if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string name = t.name.substr(prefix.size());
      const bool wanted = name.starts_with("embeddings.") || name.starts_with("encoder.layer.");
      const bool weights = t.dtype == couture::DType::F32 || t.dtype == couture::DType::F16 ||
                           t.dtype == couture::DType::BF16;
      if (!wanted || !weights) continue;  // integer buffers (position_ids, token_type_ids) are not weights
      COUTURE_CHECK_INPUT(couture::all_finite(t), "'", o.from, "': tensor '", t.name, "' holds NaN or infinity");
      encoder.emplace_back(name, as_float(file, t));
    }
    const bool has_layers = std::any_of(encoder.begin(), encoder.end(),
                                        [](const auto& e) { return e.first.starts_with("encoder.layer."); });
    COUTURE_CHECK_INPUT(has_layers, "'", o.from, "' has no ", prefix, "encoder.layer.* tensors for --encoder");
    auto encoder_metadata = metadata;
    encoder_metadata["format"] = "couture-text-encoder";
    encoder_metadata.erase("reference");
    couture::save_tensors(o.encoder, encoder, encoder_metadata);
    std::printf("%s: %zu encoder tensors\n", o.encoder.c_str(), encoder.size());
  });
}
