#include "text/vocab_train.h"

#include <algorithm>
#include <queue>
#include <vector>

#include "core/error.h"
#include "text/unicode.h"

namespace couture {

void WordCounter::add(std::string_view text) {
  scratch_.clear();
  pre_tokenize(text, normalizer_, scratch_);
  for (const Word& w : scratch_.words) {
    const std::string_view word = scratch_.word(w);
    auto it = counts_.find(std::string(word));
    if (it == counts_.end()) {
      counts_.emplace(word, 1);
    } else {
      ++it->second;
    }
  }
  ++texts_;
}

namespace {

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct Candidate {
  int64_t count;
  int32_t a, b;
  // Max-heap order: the larger count first, then the smaller ids, so ties are broken the same way every run.
  bool operator<(const Candidate& o) const {
    if (count != o.count) return count < o.count;
    if (a != o.a) return a > o.a;
    return b > o.b;
  }
};

struct SymbolWord {
  std::vector<int32_t> symbols;
  int64_t count;
};

class Trainer {
 public:
  Trainer(const VocabTrainOptions& options, VocabTrainReport& report) : o_(options), r_(report) {}

  Vocab run(const WordCounter& counter) {
    r_.texts = counter.texts();
    std::vector<std::pair<std::string_view, int64_t>> words(counter.counts().begin(), counter.counts().end());
    std::sort(words.begin(), words.end());  // a fixed order, whatever the hash map's
    r_.unique_words = words.size();
    for (const auto& w : words) r_.words += size_t(w.second);
    COUTURE_CHECK_INPUT(!words.empty(), "vocabulary training: the captions hold no words");

    const SpecialTokens& s = o_.specials;
    for (const std::string* t : {&s.cls, &s.pad, &s.sep, &s.unk, &s.mask}) add_token(*t);
    COUTURE_CHECK_INPUT(o_.vocab_size > tokens_.size(), "vocabulary size ", o_.vocab_size,
                        " leaves no room beyond the ", tokens_.size(), " special tokens");
    build_alphabet(words);
    build_words(words);
    merge();

    Vocab vocab;
    vocab.tokens = std::move(tokens_);
    vocab.normalizer = o_.normalizer;
    vocab.specials = o_.specials;
    vocab.continuing_prefix = o_.continuing_prefix;
    vocab.max_input_chars_per_word = o_.max_input_chars_per_word;
    vocab.added_tokens = {s.cls, s.pad, s.sep, s.unk, s.mask};
    vocab.source = "trained vocabulary";
    return vocab;
  }

 private:
  int32_t add_token(const std::string& token) {
    auto [it, inserted] = ids_.emplace(token, int32_t(tokens_.size()));
    if (inserted) tokens_.push_back(token);
    return it->second;
  }

  bool can_continue(char32_t cp) const {
    const uint8_t cls = unicode::classify(cp);
    return !(cls & unicode::kPunctuation) && !(o_.normalizer.handle_chinese_chars && (cls & unicode::kCjk));
  }

  template <typename F>
  void for_each_char(std::string_view word, F&& f) {
    for (size_t i = 0; i < word.size();) f(utf8::next(word, i));
  }

  void build_alphabet(const std::vector<std::pair<std::string_view, int64_t>>& words) {
    std::unordered_map<char32_t, int64_t> freq;
    for (const auto& [word, count] : words) {
      if (utf8::count_chars(word) > o_.max_input_chars_per_word) continue;
      for_each_char(word, [&](char32_t cp) { freq[cp] += count; });
    }
    std::vector<std::pair<char32_t, int64_t>> chars(freq.begin(), freq.end());
    std::sort(chars.begin(), chars.end(),
              [](const auto& x, const auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; });
    r_.characters = chars.size();
    size_t room = o_.vocab_size - tokens_.size();
    std::vector<char32_t> kept;
    for (const auto& [cp, count] : chars) {
      const size_t cost = can_continue(cp) ? 2 : 1;
      if (cost > room) break;  // the rest are rarer: their words will be [UNK]
      room -= cost;
      kept.push_back(cp);
    }
    r_.dropped_characters = chars.size() - kept.size();
    for (char32_t cp : kept) {
      std::string t;
      utf8::append(t, cp);
      plain_[cp] = add_token(t);
    }
    for (char32_t cp : kept) {
      if (!can_continue(cp)) continue;
      std::string t = o_.continuing_prefix;
      utf8::append(t, cp);
      continuation_[cp] = add_token(t);
    }
  }

  void build_words(const std::vector<std::pair<std::string_view, int64_t>>& words) {
    for (const auto& [word, count] : words) {
      SymbolWord w{{}, count};
      bool ok = utf8::count_chars(word) <= o_.max_input_chars_per_word;
      for_each_char(word, [&](char32_t cp) {
        const auto& table = w.symbols.empty() ? plain_ : continuation_;
        auto it = table.find(cp);
        if (it == table.end()) {
          ok = false;
        } else if (ok) {
          w.symbols.push_back(it->second);
        }
      });
      if (ok && w.symbols.size() > 1) words_.push_back(std::move(w));
    }
    for (size_t i = 0; i < words_.size(); ++i) {
      const auto& sym = words_[i].symbols;
      for (size_t j = 0; j + 1 < sym.size(); ++j) {
        const uint64_t key = pair_key(sym[j], sym[j + 1]);
        pair_counts_[key] += words_[i].count;
        where_[key].push_back(uint32_t(i));
      }
    }
    for (const auto& [key, count] : pair_counts_) heap_.push({count, int32_t(key >> 32), int32_t(uint32_t(key))});
  }

  void merge() {
    const size_t prefix = o_.continuing_prefix.size();
    while (tokens_.size() < o_.vocab_size) {
      if (heap_.empty()) {
        r_.stopped_early = true;
        return;
      }
      const Candidate top = heap_.top();
      heap_.pop();
      const uint64_t key = pair_key(top.a, top.b);
      auto found = pair_counts_.find(key);
      if (found == pair_counts_.end() || found->second != top.count) continue;  // stale entry
      if (top.count < o_.min_frequency) {
        r_.stopped_early = true;
        return;
      }
      const int32_t merged = add_token(tokens_[size_t(top.a)] + tokens_[size_t(top.b)].substr(prefix));
      apply_merge(top.a, top.b, merged);
      ++r_.merges;
    }
  }

  // Replaces a,b by `merged` in every word holding the pair and updates the pair counts by difference.
  void apply_merge(int32_t a, int32_t b, int32_t merged) {
    std::vector<uint32_t> holders = std::move(where_[pair_key(a, b)]);
    where_.erase(pair_key(a, b));
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    std::unordered_map<uint64_t, int64_t> delta;
    for (uint32_t i : holders) {
      auto& sym = words_[i].symbols;
      const int64_t count = words_[i].count;
      bool present = false;
      for (size_t j = 0; j + 1 < sym.size() && !present; ++j) present = sym[j] == a && sym[j + 1] == b;
      if (!present) continue;
      for (size_t j = 0; j + 1 < sym.size(); ++j) delta[pair_key(sym[j], sym[j + 1])] -= count;
      size_t out = 0;
      for (size_t j = 0; j < sym.size(); ++j) {
        if (j + 1 < sym.size() && sym[j] == a && sym[j + 1] == b) {
          sym[out++] = merged;
          ++j;
        } else {
          sym[out++] = sym[j];
        }
      }
      sym.resize(out);
      for (size_t j = 0; j + 1 < sym.size(); ++j) {
        const uint64_t k = pair_key(sym[j], sym[j + 1]);
        delta[k] += count;
        if (sym[j] == merged || sym[j + 1] == merged) where_[k].push_back(i);
      }
    }
    for (const auto& [k, d] : delta) {
      if (d == 0) continue;
      int64_t& c = pair_counts_[k];
      c += d;
      if (c <= 0) {
        pair_counts_.erase(k);
      } else {
        heap_.push({c, int32_t(k >> 32), int32_t(uint32_t(k))});
      }
    }
  }

  const VocabTrainOptions& o_;
  VocabTrainReport& r_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<char32_t, int32_t> plain_, continuation_;
  std::vector<SymbolWord> words_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where_;
  std::priority_queue<Candidate> heap_;
};

}  // namespace

Vocab train_wordpiece_vocab(const WordCounter& words, const VocabTrainOptions& options, VocabTrainReport* report) {
  VocabTrainReport local;
  Trainer trainer(options, report ? *report : local);
  return trainer.run(words);
}

}  // namespace couture
