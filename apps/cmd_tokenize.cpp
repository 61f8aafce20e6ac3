// couture tokenize --vocab FILE [--max-len N] TEXT...: one JSON line per text with its ids and tokens ("-" reads
// one text per line from stdin). A text the tokenizer refuses gets a line with "error"; the exit status is then 1.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "text/wordpiece.h"

namespace {

struct TokenizeOptions {
  std::string vocab;
  size_t max_len = 0;
  size_t max_input_bytes = couture::WordPieceTokenizer::kDefaultMaxInputBytes;
  std::vector<std::string> texts;
};

// Invalid UTF-8 in the input is shown with U+FFFD rather than failing the JSON output.
std::string json_line(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool print_one(const couture::WordPieceTokenizer& tokenizer, const std::string& text, size_t max_len) {
  nlohmann::ordered_json line;
  line["text"] = text;
  try {
    const auto e = tokenizer.encode(text, max_len);
    line["ids"] = e.ids;
    line["tokens"] = e.tokens;
    if (max_len) line["attention_mask"] = e.attention_mask;
  } catch (const couture::InputError& error) {
    line["error"] = error.what();
  }
  std::printf("%s\n", json_line(line).c_str());
  return !line.contains("error");
}

}  // namespace

COUTURE_COMMAND("tokenize", "Tokenize texts with a WordPiece vocabulary; one JSON line per text") {
  static TokenizeOptions o;
  cmd.add_option("--vocab", o.vocab, "vocab.txt, tokenizer.json, or a folder holding one")->required();
  cmd.add_option("--max-len", o.max_len, "Pad or truncate to this many ids, [CLS] and [SEP] included (0: as is)");
  cmd.add_option("--max-input-bytes", o.max_input_bytes, "Refuse texts longer than this");
  cmd.add_option("texts", o.texts, "Texts to tokenize; - reads one text per line from stdin")->required();
  cmd.callback([] {
    auto tokenizer = couture::WordPieceTokenizer::load(o.vocab);
    tokenizer.set_max_input_bytes(o.max_input_bytes);
    COUTURE_CHECK_INPUT(o.max_len == 0 || o.max_len >= 2, "--max-len ", o.max_len,
                        " leaves no room for [CLS] and [SEP] (use 0 or at least 2)");
    size_t total = 0, refused = 0;
    for (const auto& text : o.texts) {
      if (text != "-") {
        ++total;
        refused += !print_one(tokenizer, text, o.max_len);
        continue;
      }
      for (std::string line; std::getline(std::cin, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        ++total;
        refused += !print_one(tokenizer, line, o.max_len);
      }
    }
    std::fflush(stdout);
    COUTURE_CHECK_INPUT(refused == 0, refused, " of ", total, " texts were refused (see their \"error\" lines)");
  });
}
