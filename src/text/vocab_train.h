// Learns a WordPiece vocabulary from captions, deterministically, for users without klue's. The algorithm is Hugging
// Face's WordPieceTrainer (BPE merges on WordPiece symbols): captions are split into words exactly as the tokenizer
// splits them; every word starts as its characters (first one plain, the rest "##"); the most frequent adjacent pair
// is merged ("ab" or "##ab") until the vocabulary is full. Ties go to the pair of smaller ids (older symbols).
// Layout: the specials in klue's order ([CLS] [PAD] [SEP] [UNK] [MASK]), every character (most frequent first),
// every character's "##" form (except punctuation and CJK ideographs, which are always words of their own),
// then the merged tokens in the order they were learnt.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/bert_pretokenizer.h"
#include "text/vocab.h"

namespace couture {

struct VocabTrainOptions {
  size_t vocab_size = 4000;    // total, specials included
  int64_t min_frequency = 2;   // pairs seen fewer times are never merged (rarer merges only memorise)
  NormalizerConfig normalizer;  // klue's settings, as the tokenizer will use
  SpecialTokens specials;
  std::string continuing_prefix = "##";
  size_t max_input_chars_per_word = 100;  // longer words are [UNK] anyway and are not learnt from
  // Also every Hangul syllable of KS X 1001 (the 2,350 of EUC-KR), plain and "##", after the corpus's own characters:
  // a prompt's syllable the captions never used is then still no [UNK]. Needs about 4,700 tokens of room.
  bool include_hangul_syllables = false;
};

// The 2,350 Hangul syllables of KS X 1001 in code order (data/hangul-ksx1001.txt, compiled in).
const std::vector<char32_t>& ksx1001_hangul_syllables();

// Word frequencies of a corpus, the words split as the tokenizer splits them.
class WordCounter {
 public:
  explicit WordCounter(NormalizerConfig normalizer = {}) : normalizer_(normalizer) {}
  void add(std::string_view text);
  size_t texts() const { return texts_; }
  const std::unordered_map<std::string, int64_t>& counts() const { return counts_; }

 private:
  NormalizerConfig normalizer_;
  std::unordered_map<std::string, int64_t> counts_;
  PreTokenized scratch_;
  size_t texts_ = 0;
};

struct VocabTrainReport {
  size_t texts = 0, words = 0, unique_words = 0;
  size_t characters = 0, dropped_characters = 0;  // dropped: rarest, when the size leaves no room for them
  size_t merges = 0;
  bool stopped_early = false;  // no pair left with min_frequency before reaching vocab_size
};

// couture::InputError when the corpus has no words or vocab_size has no room beyond the specials.
Vocab train_wordpiece_vocab(const WordCounter& words, const VocabTrainOptions& options,
                            VocabTrainReport* report = nullptr);

}  // namespace couture
