// Tokenizer speed on 100,000 K-Fashion-style captions (composed from the attribute vocabulary with the caption
// builder, seeded), one thread, encode to text_seq_len ids as the DALL-E's loader does. Quality beside speed:
// the unknown-token rate and how many captions were cut at max_len. Also times the vocabulary trainer.
//   text_tokenizer_bench [--captions N] [--reps R] [--max-len L] [--vocab FILE] [--vocab-size V] [--json FILE]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "text/caption.h"
#include "text/kfashion_labels.h"
#include "text/vocab_train.h"
#include "text/wordpiece.h"

namespace {
using namespace couture;
using Clock = std::chrono::steady_clock;

struct Args {
  size_t captions = 100000, reps = 5, max_len = 64, vocab_size = 2000;
  std::string vocab, json;
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

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// CPU time of this thread: on a shared machine it shows the single-core speed that wall time hides.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--captions") a.captions = std::stoul(v);
    else if (k == "--reps") a.reps = std::stoul(v);
    else if (k == "--max-len") a.max_len = std::stoul(v);
    else if (k == "--vocab") a.vocab = v;
    else if (k == "--vocab-size") a.vocab_size = std::stoul(v);
    else if (k == "--json") a.json = v;
    else throw std::runtime_error("unknown option " + k);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const auto captions = make_captions(args.captions, 20211227);
  size_t bytes = 0;
  for (const auto& c : captions) bytes += c.size();

  // The vocabulary: learnt from other captions of the same kind (so unknowns are possible), or the one given.
  double train_s = 0;
  const size_t train_captions = 70000;
  Vocab vocab;
  if (args.vocab.empty()) {
    const auto corpus = make_captions(train_captions, 7);
    const auto t0 = Clock::now();
    WordCounter counter;
    for (const auto& c : corpus) counter.add(c);
    VocabTrainOptions options;
    options.vocab_size = args.vocab_size;
    vocab = train_wordpiece_vocab(counter, options);
    train_s = std::chrono::duration<double>(Clock::now() - t0).count();
  } else {
    vocab = load_vocab(args.vocab);
  }
  const WordPieceTokenizer tokenizer(vocab);

  struct Case {
    std::string name;
    size_t max_len;
    double wall_s = 0, cpu_s = 0, tokens = 0, unknown_percent = 0, cut_percent = 0;
  };
  std::vector<Case> cases = {{"encode, max_len " + std::to_string(args.max_len), args.max_len},
                             {"encode, whole caption", 0}};
  std::vector<int32_t> ids, pieces;
  for (auto& c : cases) {
    size_t tokens = 0, unknown = 0, cut = 0;
    for (const auto& caption : captions) {  // warm-up, and the quality figures
      const size_t n = tokenizer.encode_ids(caption, c.max_len, ids);
      tokens += n;
      unknown += size_t(std::count(ids.begin(), ids.begin() + ptrdiff_t(n), tokenizer.unk_id()));
      if (c.max_len) {
        tokenizer.tokenize(caption, pieces);
        cut += pieces.size() + 2 > c.max_len;
      }
    }
    std::vector<double> wall, cpu;
    for (size_t r = 0; r < args.reps; ++r) {
      const auto t0 = Clock::now();
      const double c0 = thread_cpu_seconds();
      size_t sink = 0;
      for (const auto& caption : captions) sink += tokenizer.encode_ids(caption, c.max_len, ids);
      cpu.push_back(thread_cpu_seconds() - c0);
      wall.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      if (sink == 0) std::printf("(no tokens)\n");
    }
    c.wall_s = median(wall);
    c.cpu_s = median(cpu);
    c.tokens = double(tokens) / double(captions.size());
    c.unknown_percent = 100.0 * double(unknown) / double(std::max<size_t>(tokens, 1));
    c.cut_percent = 100.0 * double(cut) / double(captions.size());
  }

  const double n = double(captions.size());
  std::printf("machine: %s; %zu captions of %.0f bytes on average; vocabulary of %zu tokens (%s); median of %zu runs\n",
              cpu_name().c_str(), captions.size(), double(bytes) / n, tokenizer.vocab_size(),
              args.vocab.empty() ? "learnt from 70,000 other captions" : args.vocab.c_str(), args.reps);
  std::printf("CPU time is the thread's own: on a shared machine it shows the one-core speed that wall time hides.\n");
  std::printf("%-26s %7s %10s %14s %14s  %s\n", "case", "threads", "wall s", "captions/s", "captions/CPU-s",
              "quality");
  for (const auto& c : cases) {
    std::printf("%-26s %7d %10.4f %14.0f %14.0f  %.1f ids/caption, unknown %.3f%% of ids", c.name.c_str(), 1,
                c.wall_s, n / c.wall_s, n / c.cpu_s, c.tokens, c.unknown_percent);
    if (c.max_len) std::printf(", %.1f%% cut", c.cut_percent);
    std::printf("\n");
  }
  if (args.vocab.empty()) {
    std::printf("%-26s %7d %10.4f %14.0f %14s  %zu tokens learnt\n", "vocab train, 70k captions", 1, train_s,
                double(train_captions) / train_s, "-", vocab.tokens.size());
  }
  if (!args.json.empty()) {
    std::ofstream out(args.json);
    out << "{\"bench\": \"text_tokenizer\", \"machine\": \"" << cpu_name() << "\", \"threads\": 1, \"captions\": "
        << captions.size() << ", \"vocab_size\": " << tokenizer.vocab_size() << ", \"vocab_train_s\": " << train_s
        << ", \"cases\": [";
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      out << (i ? ", " : "") << "{\"case\": \"" << c.name << "\", \"max_len\": " << c.max_len
          << ", \"median_wall_s\": " << c.wall_s << ", \"captions_per_s\": " << n / c.wall_s
          << ", \"captions_per_cpu_s\": " << n / c.cpu_s << ", \"ids_per_caption\": " << c.tokens
          << ", \"unknown_percent\": " << c.unknown_percent << ", \"cut_percent\": " << c.cut_percent << "}";
    }
    out << "]}\n";
  }
  return 0;
}
