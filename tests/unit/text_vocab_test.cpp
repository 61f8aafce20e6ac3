// Loading vocabularies in the formats users have, and the clear refusals of broken ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "core/atomic_file.h"
#include "support/temp_dir.h"
#include "core/error.h"
#include "text/vocab.h"
#include "text/wordpiece.h"

namespace {
using namespace couture;
namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kJson = R"({
  "version": "1.0",
  "added_tokens": [{"id": 0, "content": "[CLS]", "special": true}, {"id": 3, "content": "[UNK]", "special": true}],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                 "strip_accents": null, "lowercase": false},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}]},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {"[CLS]": 0, "[PAD]": 1, "[SEP]": 2, "[UNK]": 3, "[MASK]": 4, "상의": 5, "##에서": 6}}
})";

TEST(TextVocab, VocabTxtIdsAreLineNumbers) {
  const Vocab v = parse_vocab_txt("\xEF\xBB\xBF[CLS]\r\n[PAD]\r\n\n[UNK]\n", "v");
  EXPECT_EQ(v.tokens, (std::vector<std::string>{"[CLS]", "[PAD]", "", "[UNK]"}));  // BOM and \r dropped
  EXPECT_FALSE(v.normalizer.lowercase);  // klue's settings without a tokenizer_config.json
  EXPECT_TRUE(v.normalizer.handle_chinese_chars);
  EXPECT_NE(error_of([] { parse_vocab_txt("a\n\xFF\n", "v.txt"); }).find("v.txt: line 2 is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_vocab_txt("", "v.txt"); }).find("empty"), std::string::npos);
}

TEST(TextVocab, TokenizerJsonReadsModelAndSettings) {
  const Vocab v = parse_tokenizer_json(kJson, "t.json");
  ASSERT_EQ(v.tokens.size(), 7u);
  EXPECT_EQ(v.tokens[6], "##에서");
  EXPECT_FALSE(v.normalizer.lowercase);
  EXPECT_FALSE(v.normalizer.strip_accents);
  const WordPieceTokenizer t(v);
  EXPECT_EQ(t.encode("상의에서").ids, (std::vector<int32_t>{0, 5, 6, 2}));
}

TEST(TextVocab, TokenizerJsonRefusalsNameTheProblem) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string s = kJson;
    s.replace(s.find(from), from.size(), to);
    return error_of([&] { parse_tokenizer_json(s, "t.json"); });
  };
  EXPECT_NE(with("\"type\": \"WordPiece\"", "\"type\": \"BPE\"").find("model type 'BPE' is not WordPiece"),
            std::string::npos);
  EXPECT_NE(with("\"##에서\": 6", "\"##에서\": 9").find("outside 0..6"), std::string::npos);
  EXPECT_NE(with("\"##에서\": 6", "\"##에서\": 5").find("id 5 is given to both"), std::string::npos);
  EXPECT_NE(with("BertPreTokenizer", "Whitespace").find("pre_tokenizer type 'Whitespace'"), std::string::npos);
  EXPECT_NE(with("\"BertNormalizer\"", "\"NFKC\"").find("normalizer type 'NFKC'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_tokenizer_json("{", "t.json"); }).find("t.json: not valid JSON"), std::string::npos);
}

TEST(TextVocab, TokenizerConfigOverridesSettingsAndSpecials) {
  Vocab v = parse_vocab_txt("<s>\n<pad>\n</s>\n<unk>\nA\n", "v");
  apply_tokenizer_config(v,
                         R"({"do_lower_case": true, "cls_token": "<s>", "sep_token": {"content": "</s>"},
                             "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": null})",
                         "cfg");
  EXPECT_TRUE(v.normalizer.lowercase);
  EXPECT_FALSE(v.normalizer.strip_accents);  // only a present strip_accents key follows do_lower_case
  const WordPieceTokenizer t(v);
  EXPECT_EQ(t.cls_id(), 0);
  EXPECT_EQ(t.sep_id(), 2);
  EXPECT_EQ(t.pad_id(), 1);
  EXPECT_EQ(t.unk_id(), 3);
  EXPECT_EQ(t.encode("x", 4).ids, (std::vector<int32_t>{0, 3, 2, 1}));
}

TEST(TextVocab, LoadDetectsTheFormatAndReadsTheConfigBeside) {
  const couture::testing::TempDir temp;
  const fs::path dir = temp.path();
  write_file_atomic(dir / "tokenizer.json", std::string_view(kJson));
  write_file_atomic(dir / "vocab.txt", std::string_view("[CLS]\n[PAD]\n[SEP]\n[UNK]\nabc\n"));
  write_file_atomic(dir / "my_vocab", std::string_view(kJson));  // JSON content without the extension
  EXPECT_EQ(load_vocab(dir).tokens.size(), 7u);  // a folder: tokenizer.json first
  EXPECT_EQ(load_vocab(dir / "vocab.txt").tokens.size(), 5u);
  EXPECT_EQ(load_vocab(dir / "my_vocab").tokens.size(), 7u);
  write_file_atomic(dir / "tokenizer_config.json", std::string_view(R"({"do_lower_case": true})"));
  EXPECT_TRUE(load_vocab(dir / "vocab.txt").normalizer.lowercase);
  EXPECT_NE(error_of([&] { load_vocab(dir / "missing.txt"); }).find("does not exist"), std::string::npos);
}

TEST(TextVocab, WriteThenLoadGivesTheSameTokenizer) {
  const couture::testing::TempDir temp;
  const fs::path dir = temp.path();
  Vocab v = parse_tokenizer_json(kJson, "t.json");
  write_vocab_txt(dir / "vocab.txt", v);
  const Vocab back = load_vocab(dir / "vocab.txt");
  EXPECT_EQ(back.tokens, v.tokens);
  EXPECT_FALSE(back.normalizer.lowercase);
  EXPECT_TRUE(fs::exists(dir / "tokenizer_config.json"));
}

}  // namespace
