// A BERT WordPiece vocabulary and its tokenizer settings, loaded from the files users have: `vocab.txt` (one token a
// line, id = line number) or Hugging Face's `tokenizer.json`, each with an optional `tokenizer_config.json` beside
// it. Defaults are klue/roberta's: no lower-casing, no accent stripping, CJK ideographs split, clean_text, `##`,
// 100 characters per word. Special tokens are named here and their ids looked up in the vocabulary, never assumed.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace couture {

// Hugging Face `BertNormalizer` options.
struct NormalizerConfig {
  bool clean_text = true;            // drop U+0000, U+FFFD and C* characters; whitespace becomes ' '
  bool handle_chinese_chars = true;  // spaces around CJK ideographs, so each is its own word
  bool strip_accents = false;        // NFD, then drop Mn marks
  bool lowercase = false;
};

struct SpecialTokens {
  std::string cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", unk = "[UNK]", mask = "[MASK]";
};

struct Vocab {
  std::vector<std::string> tokens;  // id -> token
  NormalizerConfig normalizer;
  SpecialTokens specials;
  std::string continuing_prefix = "##";
  size_t max_input_chars_per_word = 100;  // a longer word becomes [UNK]
  // Matched in the raw text before normalisation and kept whole (Hugging Face "added tokens"): the specials.
  std::vector<std::string> added_tokens;
  std::string source;  // the file it came from, for messages
};

// Detects the format: a folder (tokenizer.json, else vocab.txt inside), a `.json` file or JSON content, else
// vocab.txt. tokenizer_config.json beside the file, when present, sets the special tokens and overrides
// do_lower_case / strip_accents / tokenize_chinese_chars. couture::InputError naming the file on any problem.
Vocab load_vocab(const std::filesystem::path& path);
Vocab load_vocab_txt(const std::filesystem::path& path);
Vocab load_tokenizer_json(const std::filesystem::path& path);

// The parsers behind the loaders; `source` names the content in messages.
Vocab parse_vocab_txt(std::string_view content, const std::string& source);
Vocab parse_tokenizer_json(std::string_view content, const std::string& source);
void apply_tokenizer_config(Vocab& vocab, std::string_view config_json, const std::string& source);

// One token a line, atomically; with `config` also a tokenizer_config.json beside it that records the settings.
void write_vocab_txt(const std::filesystem::path& path, const Vocab& vocab, bool write_config = true);

}  // namespace couture
