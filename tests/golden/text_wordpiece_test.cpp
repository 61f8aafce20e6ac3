// The tokenizer against ../shared/testdata/wordpiece/vectors.json (made by Hugging Face's tokenizers.js with
// klue/roberta's settings): every case must give the same ids and tokens, loaded from vocab.txt and tokenizer.json.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "core/atomic_file.h"
#include "support/golden.h"
#include "text/wordpiece.h"

namespace {
namespace fs = std::filesystem;

const fs::path kDir = fs::path(COUTURE_SHARED_TESTDATA) / "wordpiece";

nlohmann::json cases() { return nlohmann::json::parse(couture::read_file(kDir / "vectors.json"))["cases"]; }

void check_all(const couture::WordPieceTokenizer& tokenizer, const std::string& name) {
  size_t matched = 0, total = 0;
  for (const auto& c : cases()) {
    ++total;
    const std::string text = c["text"];
    const auto expected_ids = c["ids"].get<std::vector<int32_t>>();
    const auto expected_tokens = c["tokens"].get<std::vector<std::string>>();
    const auto e = tokenizer.encode(text);
    EXPECT_EQ(e.ids, expected_ids) << name << ": text '" << text << "'";
    EXPECT_EQ(e.tokens, expected_tokens) << name << ": text '" << text << "'";
    if (e.ids == expected_ids && e.tokens == expected_tokens) ++matched;
  }
  std::printf("%s: %zu of %zu cases match exactly\n", name.c_str(), matched, total);
  EXPECT_EQ(matched, total);
  EXPECT_GE(total, 10u);
}

class TextWordpieceGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    COUTURE_NEED_REFERENCE(fs::exists(kDir / "vectors.json"), "reference vectors not found at " << kDir);
  }
};

TEST_F(TextWordpieceGolden, VocabTxtMatchesEveryCase) {
  check_all(couture::WordPieceTokenizer::load(kDir / "vocab.txt"), "vocab.txt");
}

TEST_F(TextWordpieceGolden, TokenizerJsonMatchesEveryCase) {
  check_all(couture::WordPieceTokenizer::load(kDir / "tokenizer.json"), "tokenizer.json");
}

TEST_F(TextWordpieceGolden, SpecialIdsComeFromTheVocabulary) {
  for (const char* file : {"vocab.txt", "tokenizer.json"}) {
    const auto tokenizer = couture::WordPieceTokenizer::load(kDir / file);
    EXPECT_EQ(tokenizer.cls_id(), 0) << file;  // klue's order: [CLS] [PAD] [SEP] [UNK] [MASK]
    EXPECT_EQ(tokenizer.pad_id(), 1) << file;
    EXPECT_EQ(tokenizer.sep_id(), 2) << file;
    EXPECT_EQ(tokenizer.unk_id(), 3) << file;
    EXPECT_EQ(tokenizer.mask_id(), 4) << file;
    EXPECT_EQ(tokenizer.vocab_size(), 291u) << file;
  }
}

// Padding and truncation as KoDALLE's loader asks of transformers: the reference ids cut to max_len - 1 and
// closed with [SEP], or padded with [PAD] and a zero mask.
TEST_F(TextWordpieceGolden, PaddingAndTruncationFollowTheReference) {
  const auto tokenizer = couture::WordPieceTokenizer::load(kDir / "tokenizer.json");
  for (const auto& c : cases()) {
    const auto ref = c["ids"].get<std::vector<int32_t>>();
    for (size_t max_len : {2, 8, 64}) {
      const auto e = tokenizer.encode(c["text"].get<std::string>(), max_len);
      std::vector<int32_t> expected(ref.begin(), ref.begin() + std::min(ref.size() - 1, max_len - 1));
      expected.push_back(tokenizer.sep_id());
      const size_t real = expected.size();
      expected.resize(max_len, tokenizer.pad_id());
      EXPECT_EQ(e.ids, expected) << "max_len " << max_len;
      for (size_t i = 0; i < max_len; ++i) EXPECT_EQ(e.attention_mask[i], i < real ? 1 : 0);
    }
  }
}

}  // namespace
