// The vocabulary trainer: klue's special-token order, every character in both forms, deterministic merges that the
// tokenizer then uses, and clear refusals.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "text/vocab_train.h"
#include "text/wordpiece.h"

namespace {
using namespace couture;

const std::vector<std::string> kCaptions = {
    "상의에서 색상은 화이트이다. 상의에서 소재에는 니트, 울이다.",
    "하의에서 색상은 블랙이다. 하의에서 기장은 롱이다.",
    "아우터에서 색상은 화이트이다. 아우터에서 소재에는 트위드이다.",
    "상의에서 색상은 스카이블루이다. 상의에서 핏은 루즈이다.",
};

WordCounter count(const std::vector<std::string>& captions, int times = 3) {
  WordCounter counter;
  for (int i = 0; i < times; ++i) {
    for (const auto& c : captions) counter.add(c);
  }
  return counter;
}

TEST(TextVocabTrain, SpecialsFirstInKluesOrderThenCharacters) {
  VocabTrainOptions o;
  o.vocab_size = 200;
  const Vocab v = train_wordpiece_vocab(count(kCaptions), o);
  ASSERT_GE(v.tokens.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(v.tokens.begin(), v.tokens.begin() + 5),
            (std::vector<std::string>{"[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"}));
  const WordPieceTokenizer t(v);
  EXPECT_EQ(t.cls_id(), 0);
  EXPECT_EQ(t.pad_id(), 1);
  EXPECT_EQ(t.sep_id(), 2);
  EXPECT_EQ(t.unk_id(), 3);
  EXPECT_EQ(t.mask_id(), 4);
  EXPECT_EQ(v.tokens[5], "이");  // the most frequent character (이다, 화이트, 스카이) comes first
  EXPECT_GE(t.token_to_id("##에"), 0);
  EXPECT_LT(t.token_to_id("##."), 0);  // punctuation is always a word of its own: no ## form
}

TEST(TextVocabTrain, LearntTokensCoverTheCaptionsWithoutUnknowns) {
  VocabTrainOptions o;
  o.vocab_size = 400;
  const WordPieceTokenizer t(train_wordpiece_vocab(count(kCaptions), o));
  for (const auto& c : kCaptions) {
    const auto e = t.encode(c);
    EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), t.unk_id()), 0) << c;
    EXPECT_EQ(t.decode(e.ids), c);  // the captions come back exactly
  }
  // Frequent words become single tokens.
  EXPECT_EQ(t.encode("상의에서").tokens, (std::vector<std::string>{"[CLS]", "상의에서", "[SEP]"}));
  // An unseen combination of known characters still segments.
  const auto unseen = t.encode("화이트에서 블랙");
  EXPECT_EQ(std::count(unseen.ids.begin(), unseen.ids.end(), t.unk_id()), 0);
}

TEST(TextVocabTrain, IsDeterministicAndRespectsTheSize) {
  VocabTrainOptions o;
  o.vocab_size = 60;
  o.min_frequency = 1;
  VocabTrainReport report;
  const Vocab a = train_wordpiece_vocab(count(kCaptions), o, &report);
  const Vocab b = train_wordpiece_vocab(count(kCaptions), o);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.tokens.size(), 60u);
  EXPECT_GT(report.dropped_characters, 0u);  // 60 entries cannot hold every character twice
  // Differently ordered counting gives the same vocabulary.
  std::vector<std::string> reversed(kCaptions.rbegin(), kCaptions.rend());
  o.vocab_size = 300;
  EXPECT_EQ(train_wordpiece_vocab(count(kCaptions), o).tokens, train_wordpiece_vocab(count(reversed), o).tokens);
}

TEST(TextVocabTrain, StopsWhenNoPairIsFrequentEnough) {
  VocabTrainOptions o;
  o.vocab_size = 100000;
  o.min_frequency = 2;
  VocabTrainReport report;
  const Vocab v = train_wordpiece_vocab(count({"가나다 가나다"}, 1), o, &report);
  EXPECT_TRUE(report.stopped_early);
  const WordPieceTokenizer t(v);
  EXPECT_GE(t.token_to_id("가나다"), 0);
  EXPECT_LT(v.tokens.size(), 100u);
}

TEST(TextVocabTrain, RefusesEmptyCorporaAndTinySizes) {
  VocabTrainOptions o;
  EXPECT_THROW(train_wordpiece_vocab(count({"   ", ""}), o), InputError);
  o.vocab_size = 5;
  EXPECT_THROW(train_wordpiece_vocab(count(kCaptions), o), InputError);
}

TEST(TextVocabTrain, KsX1001HasTheCommonHangulSyllables) {
  const std::vector<char32_t>& s = ksx1001_hangul_syllables();
  EXPECT_EQ(s.size(), 2350u);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
  for (char32_t in : {U'가', U'각', U'힝', U'옷', U'쫄'}) EXPECT_TRUE(std::binary_search(s.begin(), s.end(), in)) << int(in);
  for (char32_t out : {U'똠', U'갂', U'펲', U'a'}) EXPECT_FALSE(std::binary_search(s.begin(), s.end(), out)) << int(out);
}

TEST(TextVocabTrain, HangulSyllablesOptionLeavesNoCommonSyllableUnknown) {
  VocabTrainOptions o;
  o.vocab_size = 8000;
  const WordPieceTokenizer plain(train_wordpiece_vocab(count(kCaptions), o));
  EXPECT_LT(plain.token_to_id("힝"), 0);  // the captions never use it
  o.include_hangul_syllables = true;
  VocabTrainReport report;
  const Vocab v = train_wordpiece_vocab(count(kCaptions), o, &report);
  const WordPieceTokenizer t(v);
  for (const char* token : {"가", "##가", "각", "힝", "##힝", "쫄", "##쫄"}) EXPECT_GE(t.token_to_id(token), 0) << token;
  EXPECT_LT(t.token_to_id("똠"), 0);  // not in KS X 1001
  EXPECT_EQ(report.dropped_characters, 0u);
  // A word the captions never had: every syllable known, no [UNK]; a syllable outside KS X 1001 still is one.
  const auto e = t.encode("쫄쫄이 힝");
  EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), t.unk_id()), 0);
  const auto rare = t.encode("똠얌꿍");
  EXPECT_EQ(std::count(rare.ids.begin(), rare.ids.end(), t.unk_id()), 1);
  // The captions' own characters come first, as without the option.
  EXPECT_EQ(v.tokens[5], "이");
  // Too small a size drops the unused syllables first, never the captions' characters.
  o.vocab_size = 400;
  const WordPieceTokenizer small(train_wordpiece_vocab(count(kCaptions), o, &report));
  EXPECT_GT(report.dropped_characters, 0u);
  for (const auto& c : kCaptions) {
    const auto ids = small.encode(c).ids;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), small.unk_id()), 0) << c;
  }
}

}  // namespace
