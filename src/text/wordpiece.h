// BERT WordPiece tokenizer as Hugging Face `tokenizers` runs klue/roberta's: special tokens split out of the raw
// text, BertNormalizer + BertPreTokenizer (bert_pretokenizer.h), then per word greedy longest-match-first with `##`
// continuations; a word with no full segmentation, or longer than max_input_chars_per_word, is one [UNK].
// encode() adds "[CLS] ... [SEP]", truncates and pads to max_len as KoDALLE's loader asks of transformers
// (padding="max_length", truncation=True). Thread-safe: encode/decode are const and use per-thread scratch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/token_table.h"
#include "text/vocab.h"

namespace couture {

struct Encoding {
  std::vector<int32_t> ids;             // [CLS] tokens [SEP], then [PAD] up to max_len
  std::vector<uint8_t> attention_mask;  // 1 for [CLS], the tokens and [SEP]; 0 for padding
  std::vector<std::string> tokens;      // the token text of each id
};

class WordPieceTokenizer {
 public:
  static constexpr size_t kDefaultMaxInputBytes = 16 * 1024;

  // Any format load_vocab() accepts: vocab.txt, tokenizer.json, or a folder holding one.
  static WordPieceTokenizer load(const std::filesystem::path& path);
  // couture::InputError naming vocab.source when [CLS], [SEP], [PAD] or [UNK] is missing ([MASK] is optional).
  explicit WordPieceTokenizer(Vocab vocab);

  // max_len 0: no truncation or padding. Otherwise max_len >= 2 and the output has exactly max_len entries.
  // Text over max_input_bytes() is refused with couture::InputError; any other byte string is accepted.
  Encoding encode(std::string_view text, size_t max_len = 0) const;
  // The same ids without token strings or allocation (ids keeps its capacity); returns the count before padding.
  size_t encode_ids(std::string_view text, size_t max_len, std::vector<int32_t>& ids) const;
  // Word pieces only, no [CLS]/[SEP]; stops after `limit` pieces.
  void tokenize(std::string_view text, std::vector<int32_t>& ids, size_t limit = SIZE_MAX) const;

  // Hugging Face's WordPiece decoder: pieces joined by spaces, "##" glued on, " ." -> "." and similar clean-ups.
  // skip_special drops [CLS], [SEP], [PAD], [UNK], [MASK]. Ids outside the vocabulary: couture::InputError.
  std::string decode(std::span<const int32_t> ids, bool skip_special = true) const;

  size_t vocab_size() const { return vocab_.tokens.size(); }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t mask_id() const { return mask_id_; }  // -1 when the vocabulary has none
  int32_t token_to_id(std::string_view token) const { return whole_.find(token); }  // -1 when absent
  const std::string& id_to_token(int32_t id) const;  // couture::InputError when out of range
  const Vocab& vocab() const { return vocab_; }

  size_t max_input_bytes() const { return max_input_bytes_; }
  void set_max_input_bytes(size_t bytes) { max_input_bytes_ = bytes; }

 private:
  void check_input(std::string_view text) const;
  // These append to ids until it holds `cap` entries.
  void append_pieces(std::string_view text, std::vector<int32_t>& ids, size_t cap) const;
  void append_segment(std::string_view text, std::vector<int32_t>& ids, size_t cap) const;
  // The next special token at or after `from` (npos when none), with its length and id.
  size_t find_added(std::string_view text, size_t from, size_t& length, int32_t& id) const;
  void tokenize_word(std::string_view word, size_t chars, std::vector<int32_t>& ids) const;
  bool is_special(int32_t id) const;

  Vocab vocab_;
  TokenTable whole_;         // every token as written
  TokenTable continuation_;  // tokens that start with the prefix, keyed without it
  std::vector<std::pair<std::string, int32_t>> added_;  // matched in raw text, longest first
  bool added_first_byte_[256] = {};
  int single_added_first_byte_ = -1;  // when every added token starts with the same byte
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1, mask_id_ = -1;
  size_t max_input_bytes_ = kDefaultMaxInputBytes;
};

}  // namespace couture
