// Tokenizer speed on 100,000 K-Fashion-style captions (composed from the attribute vocabulary with the caption
// builder, seeded), one thread, encode to text_seq_len ids as the DALL-E's loader does. Quality beside speed:
// the unknown-token rate and how many captions were cut at max_len. Also times the vocabulary trainer.
// One thread by design (the loader tokenises on one core), so it takes no --threads.
//   text_tokenizer_bench [--captions N] [--reps R] [--max-len L] [--vocab FILE] [--vocab-size V] [--json FILE]
//                        [--quick]
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "text/caption.h"
#include "text/kfashion_labels.h"
#include "text/vocab_train.h"
#include "text/wordpiece.h"

namespace {
using namespace couture;

struct Args {
  bench::Options common;
  size_t captions = 100000, train_captions = 70000, max_len = 64, vocab_size = 2000;
  std::string vocab;
};

const std::vector<std::string>& categories(const std::string& part) {
  static const std::vector<std::string> top = {"탑", "블라우스", "티셔츠", "니트웨어", "셔츠", "브라탑", "후드티"},
                                        bottom = {"청바지", "팬츠", "스커트", "레깅스", "조거팬츠"},
                                        outer = {"코트", "재킷", "점퍼", "패딩", "베스트", "가디건", "집업"},
                                        dress = {"드레스", "점프수트"};
  return part == "상의" ? top : part == "하의" ? bottom : part == "아우터" ? outer : dress;
}

// One outfit as a K-Fashion label would describe it: parts in label order, most attributes present.
kfashion::Label random_label(std::mt19937_64& rng) {
  static const std::vector<std::vector<std::string>> outfits = {
      {"상의", "하의"}, {"원피스"}, {"아우터", "상의", "하의"}, {"아우터", "원피스"}, {"상의"}, {"아우터", "하의"}};
  static const std::vector<std::string> attributes = {"기장", "색상",   "서브색상", "카테고리", "디테일", "소매기장",
                                                      "소재", "프린트", "넥라인",   "칼라",     "핏"};
  auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
  std::bernoulli_distribution present(0.75), second(0.3);
  kfashion::Label label;
  for (const auto& part_name : outfits[rng() % outfits.size()]) {
    kfashion::Part part;
    part.name = part_name;
    for (const auto& name : attributes) {
      if (name != "카테고리" && name != "색상" && !present(rng)) continue;
      if (part_name == "하의" && (name == "소매기장" || name == "넥라인" || name == "칼라")) continue;
      kfashion::Attribute a{name, {}, kfashion::is_list_attribute(name)};
      const auto& values = name == "카테고리" ? categories(part_name) : kfashion::known_values(name);
      a.values.push_back(pick(values));
      if (a.is_list && second(rng)) a.values.push_back(pick(values));
      part.attributes.push_back(std::move(a));
    }
    label.parts.push_back(std::move(part));
  }
  return label;
}

std::vector<std::string> make_captions(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(kfashion::full_caption(random_label(rng), {}));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tokenizer speed on K-Fashion-style captions (one thread)"};
  Args args{.common = {.reps = 5}};
  bench::add_common_options(app, args.common, "10,000 captions, vocabulary learnt from 10,000", false);
  app.add_option("--captions", args.captions, "Captions encoded per repetition");
  app.add_option("--max-len", args.max_len, "Ids per caption, as the DALL-E's loader (text_seq_len)");
  app.add_option("--vocab", args.vocab, "A vocabulary to use (default: one learnt from other captions)");
  app.add_option("--vocab-size", args.vocab_size, "Size of the learnt vocabulary");
  CLI11_PARSE(app, argc, argv);
  if (args.common.quick) args.captions = std::min<size_t>(args.captions, 10000), args.train_captions = 10000;
  const int reps = args.common.reps;
  const auto captions = make_captions(args.captions, 20211227);
  size_t bytes = 0;
  for (const auto& c : captions) bytes += c.size();

  // The vocabulary: learnt from other captions of the same kind (so unknowns are possible), or the one given.
  double train_s = 0;
  Vocab vocab;
  if (args.vocab.empty()) {
    const auto corpus = make_captions(args.train_captions, 7);
    const double t0 = bench::now();
    WordCounter counter;
    for (const auto& c : corpus) counter.add(c);
    VocabTrainOptions options;
    options.vocab_size = args.vocab_size;
    vocab = train_wordpiece_vocab(counter, options);
    train_s = bench::now() - t0;
  } else {
    vocab = load_vocab(args.vocab);
  }
  const WordPieceTokenizer tokenizer(vocab);

  struct Case {
    std::string name, label;
    size_t max_len;
    bench::Timing time;
    double tokens = 0, unknown_percent = 0, cut_percent = 0;
  };
  std::vector<Case> cases = {{"encode, max_len " + std::to_string(args.max_len), "encode_maxlen", args.max_len},
                             {"encode, whole caption", "encode_whole", 0}};
  std::vector<int32_t> ids, pieces;
  for (auto& c : cases) {
    size_t tokens = 0, unknown = 0, cut = 0;
    for (const auto& caption : captions) {  // the quality figures
      const size_t n = tokenizer.encode_ids(caption, c.max_len, ids);
      tokens += n;
      unknown += size_t(std::count(ids.begin(), ids.begin() + ptrdiff_t(n), tokenizer.unk_id()));
      if (c.max_len) {
        tokenizer.tokenize(caption, pieces);
        cut += pieces.size() + 2 > c.max_len;
      }
    }
    size_t sink = 0;
    c.time = bench::time_median(reps, [&] {
      for (const auto& caption : captions) sink += tokenizer.encode_ids(caption, c.max_len, ids);
    });
    if (sink == 0) std::printf("(no tokens)\n");
    c.tokens = double(tokens) / double(captions.size());
    c.unknown_percent = 100.0 * double(unknown) / double(std::max<size_t>(tokens, 1));
    c.cut_percent = 100.0 * double(cut) / double(captions.size());
  }

  const double n = double(captions.size());
  const std::string vocab_source = args.vocab.empty()
                                       ? "learnt from " + std::to_string(args.train_captions) + " other captions"
                                       : args.vocab;
  std::printf("machine: %s; %zu captions of %.0f bytes on average; vocabulary of %zu tokens (%s); median of %d runs\n",
              bench::cpu_model().c_str(), captions.size(), double(bytes) / n, tokenizer.vocab_size(),
              vocab_source.c_str(), reps);
  std::printf("CPU time is the process's: on a shared machine it shows the one-core speed that wall time hides.\n");
  std::printf("%-26s %7s %10s %14s %14s  %s\n", "case", "threads", "wall s", "captions/s", "captions/CPU-s",
              "quality");
  std::vector<bench::Row> rows;
  bench::json json_cases = bench::json::array();
  for (const auto& c : cases) {
    std::printf("%-26s %7d %10.4f %14.0f %14.0f  %.1f ids/caption, unknown %.3f%% of ids", c.name.c_str(), 1,
                c.time.wall, n / c.time.wall, n / c.time.cpu, c.tokens, c.unknown_percent);
    if (c.max_len) std::printf(", %.1f%% cut", c.cut_percent);
    std::printf("\n");
    json_cases.push_back({{"case", c.name}, {"max_len", c.max_len}, {"median_wall_s", c.time.wall},
                          {"captions_per_s", n / c.time.wall}, {"captions_per_cpu_s", n / c.time.cpu},
                          {"ids_per_caption", c.tokens}, {"unknown_percent", c.unknown_percent},
                          {"cut_percent", c.cut_percent}});
    rows.push_back({.bench = "text_tokenizer", .case_name = c.label, .what = c.name + ", " + std::to_string(captions.size()) + " captions",
                    .median_s = c.time.wall, .reps = reps, .threads = 1, .throughput = n / c.time.wall,
                    .throughput_unit = "captions/s", .quality = c.unknown_percent,
                    .quality_label = "unknown ids %", .peak_mb = bench::peak_rss_mb()});
  }
  if (args.vocab.empty()) {
    const double per_s = double(args.train_captions) / train_s;
    std::printf("%-26s %7d %10.4f %14.0f %14s  %zu tokens learnt\n", "vocab train", 1, train_s, per_s, "-",
                vocab.tokens.size());
    rows.push_back({.bench = "text_tokenizer", .case_name = "vocab_train", .what = "vocabulary trainer, " + vocab_source,
                    .median_s = train_s, .reps = 1, .threads = 1, .throughput = per_s,
                    .throughput_unit = "captions/s", .quality = double(vocab.tokens.size()),
                    .quality_label = "tokens learnt", .peak_mb = bench::peak_rss_mb()});
  }
  bench::write_json(args.common.json_path,
                    {{"bench", "text_tokenizer"}, {"machine", bench::cpu_model()}, {"threads", 1},
                     {"captions", captions.size()}, {"vocab_size", tokenizer.vocab_size()},
                     {"vocab_train_s", train_s}, {"cases", json_cases}},
                    rows);
  return 0;
}
