// The vocabulary trainer: klue's special-token order, every character in both forms, deterministic merges that the
// tokenizer then uses, and clear refusals.
#include <gtest/gtest.h>

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

}  // namespace
