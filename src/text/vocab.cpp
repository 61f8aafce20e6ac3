#include "text/vocab.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "text/unicode.h"

namespace couture {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json parse_json(std::string_view content, const std::string& source) {
  json j = json::parse(content.begin(), content.end(), nullptr, /*allow_exceptions=*/false);
  COUTURE_CHECK_INPUT(!j.is_discarded(), source, ": not valid JSON");
  COUTURE_CHECK_INPUT(j.is_object(), source, ": expected a JSON object at the top");
  return j;
}

// A config value that is a string, or an object with "content" (both appear in tokenizer_config.json files).
std::optional<std::string> token_name(const json& obj, const char* key, const std::string& source) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  throw InputError(detail::concat(source, ": field '", key, "' is neither a string nor {\"content\": ...}"));
}

std::optional<bool> optional_bool(const json& obj, const char* key, const std::string& source) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  COUTURE_CHECK_INPUT(it->is_boolean(), source, ": field '", key, "' must be true, false or null");
  return it->get<bool>();
}

void add_unique(std::vector<std::string>& list, const std::string& token) {
  if (std::find(list.begin(), list.end(), token) == list.end()) list.push_back(token);
}

void warn_repeats(const Vocab& vocab) {
  std::unordered_set<std::string_view> seen;
  size_t repeats = 0;
  for (const auto& token : vocab.tokens) repeats += !seen.insert(token).second;
  if (repeats) {
    log::warn(detail::concat(vocab.source, ": ", repeats, " tokens appear more than once; the last id wins"));
  }
}

// The special tokens that exist in the vocabulary are split out of raw text, as transformers does for them.
void add_specials(Vocab& vocab) {
  const std::unordered_set<std::string_view> tokens(vocab.tokens.begin(), vocab.tokens.end());
  const auto& s = vocab.specials;
  for (const std::string* t : {&s.cls, &s.pad, &s.sep, &s.unk, &s.mask}) {
    if (!t->empty() && tokens.count(*t)) add_unique(vocab.added_tokens, *t);
  }
  std::erase_if(vocab.added_tokens, [](const std::string& t) { return t.empty(); });
}

void parse_bert_normalizer(Vocab& vocab, const json& n, const std::string& source) {
  const std::string type = n.value("type", "");
  COUTURE_CHECK_INPUT(type == "BertNormalizer", source, ": normalizer type '", type,
                      "' is not supported (only BertNormalizer, as BERT WordPiece tokenizers use)");
  auto& cfg = vocab.normalizer;
  cfg.clean_text = optional_bool(n, "clean_text", source).value_or(true);
  cfg.handle_chinese_chars = optional_bool(n, "handle_chinese_chars", source).value_or(true);
  cfg.lowercase = optional_bool(n, "lowercase", source).value_or(true);
  cfg.strip_accents = optional_bool(n, "strip_accents", source).value_or(cfg.lowercase);  // null: as lowercase
}

// cls and sep from the post-processor: TemplateProcessing "[CLS] $A [SEP]", BertProcessing or RobertaProcessing.
void parse_post_processor(Vocab& vocab, const json& p, const std::string& source) {
  const std::string type = p.value("type", "");
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    for (auto [key, target] : {std::pair{"cls", &vocab.specials.cls}, std::pair{"sep", &vocab.specials.sep}}) {
      const auto& v = p.contains(key) ? p[key] : json();
      COUTURE_CHECK_INPUT(v.is_array() && !v.empty() && v[0].is_string(), source, ": post_processor.", key,
                          " must be [token, id]");
      *target = v[0].get<std::string>();
    }
    return;
  }
  COUTURE_CHECK_INPUT(type == "TemplateProcessing", source, ": post_processor type '", type,
                      "' is not supported (TemplateProcessing, BertProcessing or RobertaProcessing)");
  const json single = p.value("single", json::array());
  auto special = [&](size_t i) -> std::string {
    const json& item = single[i];
    COUTURE_CHECK_INPUT(item.is_object() && item.contains("SpecialToken") && item["SpecialToken"].contains("id"),
                        source, ": post_processor.single[", i, "] must be a SpecialToken");
    return item["SpecialToken"]["id"].get<std::string>();
  };
  COUTURE_CHECK_INPUT(single.is_array() && single.size() == 3 && single[1].contains("Sequence"), source,
                      ": post_processor.single must be [SpecialToken, Sequence, SpecialToken] like \"[CLS] $A [SEP]\"");
  vocab.specials.cls = special(0);
  vocab.specials.sep = special(2);
}

}  // namespace

Vocab parse_vocab_txt(std::string_view content, const std::string& source) {
  Vocab vocab;
  vocab.source = source;
  if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);  // an editor's byte-order mark
  size_t line_no = 0;
  while (!content.empty()) {
    ++line_no;
    const size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    COUTURE_CHECK_INPUT(utf8::is_valid(line), source, ": line ", line_no, " is not valid UTF-8");
    vocab.tokens.emplace_back(line);
  }
  COUTURE_CHECK_INPUT(!vocab.tokens.empty(), source, ": the vocabulary is empty");
  warn_repeats(vocab);
  add_specials(vocab);
  return vocab;
}

Vocab parse_tokenizer_json(std::string_view content, const std::string& source) {
  const json root = parse_json(content, source);
  COUTURE_CHECK_INPUT(root.contains("model") && root["model"].is_object(), source, ": no \"model\" object");
  const json& model = root["model"];
  const std::string type = model.value("type", "WordPiece");
  COUTURE_CHECK_INPUT(type == "WordPiece", source, ": model type '", type, "' is not WordPiece");
  COUTURE_CHECK_INPUT(model.contains("vocab") && model["vocab"].is_object() && !model["vocab"].empty(), source,
                      ": model.vocab must be a non-empty object of token -> id");

  Vocab vocab;
  vocab.source = source;
  const json& entries = model["vocab"];
  vocab.tokens.resize(entries.size());
  std::vector<bool> filled(entries.size(), false);
  for (const auto& [token, id_value] : entries.items()) {
    COUTURE_CHECK_INPUT(id_value.is_number_integer(), source, ": model.vocab['", token, "'] is not an integer id");
    const int64_t id = id_value.get<int64_t>();
    COUTURE_CHECK_INPUT(id >= 0 && id < int64_t(entries.size()), source, ": model.vocab['", token, "'] has id ",
                        id, ", outside 0..", entries.size() - 1, " (ids must be dense)");
    COUTURE_CHECK_INPUT(!filled[size_t(id)], source, ": id ", id, " is given to both '", vocab.tokens[size_t(id)],
                        "' and '", token, "'");
    filled[size_t(id)] = true;
    vocab.tokens[size_t(id)] = token;
  }
  if (auto unk = token_name(model, "unk_token", source)) vocab.specials.unk = *unk;
  vocab.continuing_prefix = model.value("continuing_subword_prefix", std::string("##"));
  COUTURE_CHECK_INPUT(!vocab.continuing_prefix.empty(), source, ": continuing_subword_prefix is empty");
  const int64_t max_chars = model.value("max_input_chars_per_word", int64_t(100));
  COUTURE_CHECK_INPUT(max_chars > 0, source, ": max_input_chars_per_word must be positive");
  vocab.max_input_chars_per_word = size_t(max_chars);

  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    parse_bert_normalizer(vocab, root["normalizer"], source);
  } else {
    vocab.normalizer = NormalizerConfig{false, false, false, false};
  }
  if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
    const std::string pre = root["pre_tokenizer"].value("type", "");
    COUTURE_CHECK_INPUT(pre == "BertPreTokenizer", source, ": pre_tokenizer type '", pre,
                        "' is not supported (only BertPreTokenizer)");
  }
  if (root.contains("post_processor") && !root["post_processor"].is_null()) {
    parse_post_processor(vocab, root["post_processor"], source);
  }
  if (root.contains("padding") && root["padding"].is_object()) {
    if (auto pad = token_name(root["padding"], "pad_token", source)) vocab.specials.pad = *pad;
  }
  for (const json& added : root.value("added_tokens", json::array())) {
    COUTURE_CHECK_INPUT(added.is_object() && added.contains("content") && added["content"].is_string() &&
                            added.contains("id") && added["id"].is_number_integer(),
                        source, ": each added_tokens entry needs a string \"content\" and an integer \"id\"");
    const std::string content_text = added["content"].get<std::string>();
    const int64_t id = added["id"].get<int64_t>();
    if (id == int64_t(vocab.tokens.size())) {
      vocab.tokens.push_back(content_text);  // an added token beyond the model's vocabulary
    } else {
      COUTURE_CHECK_INPUT(id >= 0 && id < int64_t(vocab.tokens.size()) && vocab.tokens[size_t(id)] == content_text,
                          source, ": added token '", content_text, "' has id ", id,
                          " which does not match the vocabulary");
    }
    add_unique(vocab.added_tokens, content_text);
  }
  add_specials(vocab);
  return vocab;
}

void apply_tokenizer_config(Vocab& vocab, std::string_view config_json, const std::string& source) {
  const json cfg = parse_json(config_json, source);
  auto& s = vocab.specials;
  for (auto [key, target] : {std::pair{"cls_token", &s.cls}, std::pair{"sep_token", &s.sep},
                             std::pair{"pad_token", &s.pad}, std::pair{"unk_token", &s.unk},
                             std::pair{"mask_token", &s.mask}}) {
    if (auto name = token_name(cfg, key, source)) *target = *name;
  }
  auto& n = vocab.normalizer;
  if (auto lower = optional_bool(cfg, "do_lower_case", source)) n.lowercase = *lower;
  if (cfg.contains("strip_accents")) n.strip_accents = optional_bool(cfg, "strip_accents", source).value_or(n.lowercase);
  if (auto cjk = optional_bool(cfg, "tokenize_chinese_chars", source)) n.handle_chinese_chars = *cjk;
  add_specials(vocab);
}

namespace {

Vocab with_config(Vocab vocab, const fs::path& path) {
  const fs::path config = path.parent_path() / "tokenizer_config.json";
  if (fs::is_regular_file(config)) apply_tokenizer_config(vocab, read_file(config), config.string());
  return vocab;
}

bool looks_like_json(const fs::path& path) {
  if (path.extension() == ".json") return true;
  const std::string head = read_file(path).substr(0, 64);
  const size_t first = head.find_first_not_of(" \t\r\n");
  return first != std::string::npos && head[first] == '{';
}

}  // namespace

Vocab load_vocab_txt(const fs::path& path) {
  return with_config(parse_vocab_txt(read_file(path), path.string()), path);
}

Vocab load_tokenizer_json(const fs::path& path) {
  return with_config(parse_tokenizer_json(read_file(path), path.string()), path);
}

Vocab load_vocab(const fs::path& path) {
  COUTURE_CHECK_INPUT(fs::exists(path), "vocabulary '", path.string(), "' does not exist");
  if (fs::is_directory(path)) {
    if (fs::is_regular_file(path / "tokenizer.json")) return load_tokenizer_json(path / "tokenizer.json");
    COUTURE_CHECK_INPUT(fs::is_regular_file(path / "vocab.txt"), "vocabulary folder '", path.string(),
                        "' has neither tokenizer.json nor vocab.txt");
    return load_vocab_txt(path / "vocab.txt");
  }
  return looks_like_json(path) ? load_tokenizer_json(path) : load_vocab_txt(path);
}

void write_vocab_txt(const fs::path& path, const Vocab& vocab, bool write_config) {
  std::string text;
  for (const auto& token : vocab.tokens) {
    COUTURE_CHECK(token.find('\n') == std::string::npos, "vocabulary token contains a newline");
    text += token;
    text += '\n';
  }
  write_file_atomic(path, text);
  if (!write_config) return;
  nlohmann::ordered_json cfg;
  cfg["tokenizer_class"] = "BertTokenizer";
  cfg["do_lower_case"] = vocab.normalizer.lowercase;
  cfg["strip_accents"] = vocab.normalizer.strip_accents;
  cfg["tokenize_chinese_chars"] = vocab.normalizer.handle_chinese_chars;
  cfg["cls_token"] = vocab.specials.cls;
  cfg["sep_token"] = vocab.specials.sep;
  cfg["pad_token"] = vocab.specials.pad;
  cfg["unk_token"] = vocab.specials.unk;
  cfg["mask_token"] = vocab.specials.mask;
  write_file_atomic(path.parent_path() / "tokenizer_config.json", cfg.dump(1) + "\n");
}

}  // namespace couture
