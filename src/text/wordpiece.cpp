#include "text/wordpiece.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "text/bert_pretokenizer.h"
#include "text/unicode.h"

namespace couture {
namespace {

int32_t required_id(const TokenTable& table, const std::string& token, const char* role, const Vocab& vocab) {
  const int32_t id = table.find(token);
  COUTURE_CHECK_INPUT(id >= 0, vocab.source, ": the ", role, " token '", token, "' is not in the vocabulary (",
                      vocab.tokens.size(), " tokens)");
  return id;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::load(const std::filesystem::path& path) {
  return WordPieceTokenizer(load_vocab(path));
}

WordPieceTokenizer::WordPieceTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  COUTURE_CHECK_INPUT(!vocab_.tokens.empty(), vocab_.source, ": the vocabulary is empty");
  COUTURE_CHECK_INPUT(vocab_.tokens.size() < size_t(INT32_MAX), vocab_.source, ": the vocabulary is too large");
  const std::string_view prefix = vocab_.continuing_prefix;
  for (size_t id = 0; id < vocab_.tokens.size(); ++id) {
    const std::string_view token = vocab_.tokens[id];
    whole_.insert(token, int32_t(id));
    if (token.size() > prefix.size() && token.substr(0, prefix.size()) == prefix) {
      continuation_.insert(token.substr(prefix.size()), int32_t(id));
    }
  }
  const auto& s = vocab_.specials;
  cls_id_ = required_id(whole_, s.cls, "[CLS] (cls_token)", vocab_);
  sep_id_ = required_id(whole_, s.sep, "[SEP] (sep_token)", vocab_);
  pad_id_ = required_id(whole_, s.pad, "[PAD] (pad_token)", vocab_);
  unk_id_ = required_id(whole_, s.unk, "[UNK] (unk_token)", vocab_);
  mask_id_ = whole_.find(s.mask);
  for (const auto& token : vocab_.added_tokens) {
    const int32_t id = whole_.find(token);
    if (token.empty() || id < 0) continue;
    added_.emplace_back(token, id);
    added_first_byte_[static_cast<unsigned char>(token[0])] = true;
  }
  std::stable_sort(added_.begin(), added_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  if (std::count(std::begin(added_first_byte_), std::end(added_first_byte_), true) == 1) {
    single_added_first_byte_ = static_cast<unsigned char>(added_.front().first[0]);
  }
}

void WordPieceTokenizer::check_input(std::string_view text) const {
  COUTURE_CHECK_INPUT(text.size() <= max_input_bytes_, "text of ", text.size(), " bytes is over the tokenizer's ",
                      max_input_bytes_, "-byte limit");
}

void WordPieceTokenizer::tokenize_word(std::string_view word, size_t chars, std::vector<int32_t>& ids) const {
  if (chars > vocab_.max_input_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  const size_t first_piece = ids.size();
  const size_t len = word.size();
  for (size_t start = 0; start < len;) {
    const TokenTable& table = start == 0 ? whole_ : continuation_;
    // Longest match first: start at the longest key the table holds, step back one character at a time.
    size_t end = std::min(len, start + table.max_key_bytes());
    while (end > start && end < len && utf8::is_continuation_byte(word[end])) --end;
    int32_t id = -1;
    while (end > start) {
      id = table.find(word.substr(start, end - start));
      if (id >= 0) break;
      --end;
      while (end > start && utf8::is_continuation_byte(word[end])) --end;
    }
    if (id < 0) {  // no segmentation: the whole word is unknown
      ids.resize(first_piece);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(id);
    start = end;
  }
}

// Pre-tokenizes only as far as needed: every word gives at least one piece, so asking for as many words as there
// is room for never runs past the cap, and long texts cut at max_len cost little.
void WordPieceTokenizer::append_segment(std::string_view text, std::vector<int32_t>& ids, size_t cap) const {
  thread_local PreTokenized words;
  while (!text.empty() && ids.size() < cap) {
    words.clear();
    text.remove_prefix(pre_tokenize(text, vocab_.normalizer, words, cap - ids.size()));
    for (const Word& w : words.words) {
      if (ids.size() >= cap) break;
      tokenize_word(words.word(w), w.chars, ids);
    }
  }
  if (ids.size() > cap) ids.resize(cap);
}

size_t WordPieceTokenizer::find_added(std::string_view text, size_t from, size_t& length, int32_t& id) const {
  for (size_t i = from; i < text.size(); ++i) {
    if (single_added_first_byte_ >= 0) {  // the usual case, all specials start with '[': memchr
      const void* hit = std::memchr(text.data() + i, single_added_first_byte_, text.size() - i);
      if (!hit) return std::string_view::npos;
      i = size_t(static_cast<const char*>(hit) - text.data());
    } else if (!added_first_byte_[static_cast<unsigned char>(text[i])]) {
      continue;
    }
    for (const auto& [token, token_id] : added_) {  // longest first
      if (text.compare(i, token.size(), token) == 0) {
        length = token.size();
        id = token_id;
        return i;
      }
    }
  }
  return std::string_view::npos;
}

// Special tokens in the raw text are kept whole (leftmost, then longest), as Hugging Face does; the text between
// them is tokenized on its own.
void WordPieceTokenizer::append_pieces(std::string_view text, std::vector<int32_t>& ids, size_t cap) const {
  check_input(text);
  size_t segment_start = 0, length = 0;
  int32_t id = -1;
  for (size_t at = 0; !added_.empty() && ids.size() < cap;) {
    at = find_added(text, at, length, id);
    if (at == std::string_view::npos) break;
    append_segment(text.substr(segment_start, at - segment_start), ids, cap);
    if (ids.size() < cap) ids.push_back(id);
    at += length;
    segment_start = at;
  }
  append_segment(text.substr(segment_start), ids, cap);
}

void WordPieceTokenizer::tokenize(std::string_view text, std::vector<int32_t>& ids, size_t limit) const {
  ids.clear();
  append_pieces(text, ids, limit);
}

size_t WordPieceTokenizer::encode_ids(std::string_view text, size_t max_len, std::vector<int32_t>& ids) const {
  COUTURE_CHECK_INPUT(max_len == 0 || max_len >= 2, "max_len ", max_len, " leaves no room for [CLS] and [SEP]");
  ids.clear();
  ids.push_back(cls_id_);
  append_pieces(text, ids, max_len ? max_len - 1 : SIZE_MAX);
  ids.push_back(sep_id_);
  const size_t count = ids.size();
  if (max_len) ids.resize(max_len, pad_id_);
  return count;
}

Encoding WordPieceTokenizer::encode(std::string_view text, size_t max_len) const {
  Encoding e;
  const size_t count = encode_ids(text, max_len, e.ids);
  e.attention_mask.assign(e.ids.size(), 0);
  std::fill(e.attention_mask.begin(), e.attention_mask.begin() + ptrdiff_t(count), 1);
  e.tokens.reserve(e.ids.size());
  for (int32_t id : e.ids) e.tokens.push_back(vocab_.tokens[size_t(id)]);
  return e;
}

const std::string& WordPieceTokenizer::id_to_token(int32_t id) const {
  COUTURE_CHECK_INPUT(id >= 0 && size_t(id) < vocab_.tokens.size(), "token id ", id, " is outside the vocabulary (",
                      vocab_.tokens.size(), " tokens)");
  return vocab_.tokens[size_t(id)];
}

bool WordPieceTokenizer::is_special(int32_t id) const {
  return std::any_of(added_.begin(), added_.end(), [id](const auto& a) { return a.second == id; });
}

std::string WordPieceTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const std::string_view prefix = vocab_.continuing_prefix;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    const std::string& token = id_to_token(id);
    if (skip_special && is_special(id)) continue;
    if (!first && std::string_view(token).substr(0, prefix.size()) == prefix) {
      out.append(token, prefix.size());
    } else {
      if (!first) out.push_back(' ');
      out.append(token);
    }
    first = false;
  }
  // transformers' clean_up_tokenization over the whole text (its default for BERT decoding).
  for (auto [from, to] : {std::pair{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
                          {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}) {
    replace_all(out, from, to);
  }
  return out;
}

}  // namespace couture
