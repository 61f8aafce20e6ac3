// The WordPiece tokenizer's behaviour on a small vocabulary: normalisation, splitting, greedy longest match,
// special tokens in text, padding, decoding, and refusals.
#include <gtest/gtest.h>

#include "core/error.h"
#include "text/wordpiece.h"

namespace {
using namespace couture;

const char* kVocab =
    "[CLS]\n[PAD]\n[SEP]\n[UNK]\n[MASK]\n"
    "상의\n##에서\n색상\n##은\n화이트\n##이다\n.\n,\n!\n스카이\n##블루\n블루\n中\nab\n##c\n##cd\ncafe\n##s\n"
    "상\n##의\n";

WordPieceTokenizer make(const std::string& vocab = kVocab) {
  return WordPieceTokenizer(parse_vocab_txt(vocab, "test vocab"));
}

std::vector<std::string> tokens_of(const WordPieceTokenizer& t, std::string_view text) {
  auto tokens = t.encode(text).tokens;
  return std::vector<std::string>(tokens.begin() + 1, tokens.end() - 1);  // without [CLS] and [SEP]
}

using Tokens = std::vector<std::string>;

TEST(TextTokenizer, KoreanCaptionSplitsIntoKnownPieces) {
  const auto t = make();
  EXPECT_EQ(tokens_of(t, "상의에서 색상은 화이트이다."),
            (Tokens{"상의", "##에서", "색상", "##은", "화이트", "##이다", "."}));
}

TEST(TextTokenizer, GreedyLongestMatchFirst) {
  const auto t = make();
  EXPECT_EQ(tokens_of(t, "스카이블루"), (Tokens{"스카이", "##블루"}));
  EXPECT_EQ(tokens_of(t, "abcd"), (Tokens{"ab", "##cd"}));  // ##cd beats ##c
  EXPECT_EQ(tokens_of(t, "abc"), (Tokens{"ab", "##c"}));
  EXPECT_EQ(tokens_of(t, "abx"), (Tokens{"[UNK]"}));        // one piece missing: the whole word is unknown
  EXPECT_EQ(tokens_of(t, "상의"), (Tokens{"상의"}));          // the longest match, not 상 + ##의
}

TEST(TextTokenizer, NormalisesLikeBert) {
  const auto t = make();
  EXPECT_EQ(tokens_of(t, "\t상의\xE2\x80\x8B에서\x07  \n"), (Tokens{"상의", "##에서"}));  // ZWSP, BEL dropped
  EXPECT_EQ(tokens_of(t, "블루,블루!"), (Tokens{"블루", ",", "블루", "!"}));            // punctuation splits
  EXPECT_EQ(tokens_of(t, "ab中ab"), (Tokens{"ab", "中", "ab"}));                        // CJK isolated
  EXPECT_EQ(tokens_of(t, "상\xFF의"), (Tokens{"상의"}));  // an invalid byte is U+FFFD, which clean_text drops
  EXPECT_EQ(tokens_of(t, "CAFE"), (Tokens{"[UNK]"}));    // no lower-casing by default
}

TEST(TextTokenizer, LowercaseAndAccentStrippingWhenConfigured) {
  Vocab v = parse_vocab_txt(kVocab, "test vocab");
  apply_tokenizer_config(v, R"({"do_lower_case": true, "strip_accents": null})", "config");
  const WordPieceTokenizer t(v);
  EXPECT_EQ(tokens_of(t, "CAFÉS"), (Tokens{"cafe", "##s"}));  // strip_accents null follows do_lower_case
}

TEST(TextTokenizer, WordsOverTheCharacterLimitAreUnknown) {
  const auto t = make();
  std::string ok = "ab";
  for (int i = 0; i < 98; ++i) ok += "c";
  EXPECT_EQ(tokens_of(t, ok).size(), 99u);  // 100 characters: segmented
  EXPECT_EQ(tokens_of(t, ok + "c"), (Tokens{"[UNK]"}));  // 101 characters
}

TEST(TextTokenizer, SpecialTokensInTextStayWhole) {
  const auto t = make();
  EXPECT_EQ(tokens_of(t, "상의[MASK]색상은"), (Tokens{"상의", "[MASK]", "색상", "##은"}));
  EXPECT_EQ(tokens_of(t, "[PAD][PAD"), (Tokens{"[PAD]", "[UNK]", "[UNK]"}));  // "[" and "PAD" are not in it
}

TEST(TextTokenizer, PadsTruncatesAndMasks) {
  const auto t = make();
  const auto e = t.encode("상의에서 색상은", 8);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 5, 6, 7, 8, 2, 1, 1}));
  EXPECT_EQ(e.attention_mask, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0, 0}));
  const auto cut = t.encode("상의에서 색상은 화이트이다.", 5);
  EXPECT_EQ(cut.ids, (std::vector<int32_t>{0, 5, 6, 7, 2}));
  EXPECT_EQ(t.encode("", 3).ids, (std::vector<int32_t>{0, 2, 1}));
  EXPECT_THROW(t.encode("상의", 1), InputError);
  std::vector<int32_t> ids;
  EXPECT_EQ(t.encode_ids("상의에서", 6, ids), 4u);
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 5, 6, 2, 1, 1}));
}

TEST(TextTokenizer, DecodesLikeHuggingFace) {
  const auto t = make();
  const auto e = t.encode("상의에서 색상은 화이트이다, 블루!", 16);
  EXPECT_EQ(t.decode(e.ids), "상의에서 색상은 화이트이다, 블루!");
  EXPECT_EQ(t.decode(e.ids, false).substr(0, 6), "[CLS] ");
  EXPECT_THROW(t.decode(std::vector<int32_t>{0, 999}), InputError);
  EXPECT_THROW(t.decode(std::vector<int32_t>{-1}), InputError);
}

TEST(TextTokenizer, RefusesTextOverTheCap) {
  auto t = make();
  t.set_max_input_bytes(10);
  EXPECT_NO_THROW(t.encode("0123456789"));
  try {
    t.encode("01234567890");
    FAIL() << "expected a refusal";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("10-byte limit"), std::string::npos) << e.what();
  }
}

TEST(TextTokenizer, SpecialIdsAreLookedUpNotAssumed) {
  const auto t = make("a\n[UNK]\n[SEP]\n[PAD]\n[CLS]\n");
  EXPECT_EQ(t.cls_id(), 4);
  EXPECT_EQ(t.sep_id(), 2);
  EXPECT_EQ(t.pad_id(), 3);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.mask_id(), -1);
  EXPECT_EQ(t.encode("a", 4).ids, (std::vector<int32_t>{4, 0, 2, 3}));
  EXPECT_THROW(make("a\n[CLS]\n[SEP]\n[UNK]\n"), InputError);  // no [PAD]
}

}  // namespace
