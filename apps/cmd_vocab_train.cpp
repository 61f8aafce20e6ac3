// couture vocab train --dataset DIR | --text FILE --size N --out vocab.txt: a WordPiece vocabulary learnt from
// captions (text/vocab_train.h), deterministic. Also writes tokenizer_config.json beside it, so transformers'
// BertTokenizer reads it with the same settings (its own default would lower-case).
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/training_captions.h"
#include "text/vocab_train.h"
#include "text/wordpiece.h"

namespace {
namespace fs = std::filesystem;

struct VocabTrainCli {
  std::string dataset, split = "train", text, out;
  int varied = 0;  // captions drawn as designers write per record (data/training_captions.h), beside the stored ones
  couture::VocabTrainOptions train;
};

// A dataset's S.captions.jsonl: every caption of every record (the full and the short form). Bad lines are
// skipped and counted, the first one named.
void count_dataset(const fs::path& file, couture::WordCounter& counter, int varied) {
  const couture::TrainingCaptions drawn(couture::CaptionMode::varied);
  std::ifstream in(file, std::ios::binary);
  COUTURE_CHECK_INPUT(in, "cannot open '", file.string(), "' (is --dataset a prepared dataset folder?)");
  couture::Progress progress("counting words", 0, "records");
  size_t line_no = 0, skipped = 0;
  std::string first_problem;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto record = nlohmann::json::parse(line, nullptr, false);
    const auto captions = record.is_object() ? record.find("captions") : record.end();
    std::string problem;
    if (record.is_discarded() || !record.is_object()) {
      problem = "not a JSON object";
    } else if (captions == record.end() || !captions->is_array()) {
      problem = "no 'captions' list";
    } else {
      for (const auto& caption : *captions) {
        if (caption.is_string()) counter.add(caption.get_ref<const std::string&>());
        else problem = "'captions' holds a non-text entry (skipped)";
      }
      if (varied > 0 && problem.empty()) {
        try {
          const auto r = couture::record_from_json(nlohmann::ordered_json::parse(line), file.string());
          for (int k = 0; k < varied; ++k) counter.add(drawn.caption(r, couture::caption_draw(0, k, r.index)).text);
        } catch (const couture::InputError& e) {
          problem = std::string("no varied captions: ") + e.what();
        }
      }
    }
    if (!problem.empty() && skipped++ == 0) {
      first_problem = file.string() + " line " + std::to_string(line_no) + ": " + problem;
    }
    progress.advance();
  }
  progress.finish();
  if (skipped) {
    couture::log::warn(std::to_string(skipped) + " of " + std::to_string(line_no) +
                       " lines had problems, first: " + first_problem);
  }
}

void count_text_file(const fs::path& file, couture::WordCounter& counter) {
  std::ifstream in(file, std::ios::binary);
  COUTURE_CHECK_INPUT(in, "cannot open '", file.string(), "'");
  for (std::string line; std::getline(in, line);) counter.add(line);
}

}  // namespace

COUTURE_COMMAND("vocab train", "Learn a WordPiece vocabulary from captions (deterministic)") {
  static VocabTrainCli o;
  auto* source = cmd.add_option_group("source", "Where the captions come from");
  source->add_option("--dataset", o.dataset, "A prepared dataset folder (reads SPLIT.captions.jsonl)");
  source->add_option("--text", o.text, "A text file, one caption per line");
  source->require_option(1);
  cmd.add_option("--split", o.split, "The dataset split to learn from");
  cmd.add_option("--size", o.train.vocab_size, "Vocabulary size, the 5 special tokens included")
      ->check(CLI::Range(size_t(6), size_t(1) << 24));
  cmd.add_option("--min-frequency", o.train.min_frequency, "Never merge a pair seen fewer times");
  cmd.add_flag("--hangul-syllables", o.train.include_hangul_syllables,
               "Also the 2,350 common Hangul syllables (KS X 1001), so none is [UNK]; needs ~4,700 tokens of --size");
  cmd.add_option("--varied", o.varied,
                 "Also N captions per record drawn as designers write (train dalle/clip --caption varied), so their "
                 "words are learnt")
      ->check(CLI::Range(0, 64));
  cmd.add_option("--out", o.out, "The vocab.txt to write (tokenizer_config.json goes beside it)")->required();
  cmd.callback([] {
    couture::WordCounter counter(o.train.normalizer);
    if (!o.dataset.empty()) {
      count_dataset(fs::path(o.dataset) / (o.split + ".captions.jsonl"), counter, o.varied);
    } else {
      count_text_file(o.text, counter);
    }
    couture::VocabTrainReport report;
    const couture::Vocab vocab = couture::train_wordpiece_vocab(counter, o.train, &report);
    const fs::path out(o.out);
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    couture::write_vocab_txt(out, vocab);

    // Pieces per word and the unknown rate on the corpus itself tell whether the size was enough.
    couture::WordPieceTokenizer tokenizer(vocab);
    tokenizer.set_max_input_bytes(SIZE_MAX);
    std::vector<int32_t> ids;
    int64_t pieces = 0, unknown = 0, words = 0;
    for (const auto& [word, count] : counter.counts()) {
      tokenizer.tokenize(word, ids);
      words += count;
      pieces += count * int64_t(ids.size());
      for (int32_t id : ids) unknown += id == tokenizer.unk_id() ? count : 0;
    }
    std::printf("%s: %zu tokens (%zu merges%s) from %zu texts, %zu words (%zu distinct), %zu characters%s\n",
                o.out.c_str(), vocab.tokens.size(), report.merges,
                report.stopped_early ? "; stopped early: no pair left above --min-frequency" : "", report.texts,
                report.words, report.unique_words, report.characters,
                report.dropped_characters ? " (the rarest left out: --size too small)" : "");
    std::printf("on these captions: %.3f pieces per word, %.4f%% unknown\n", words ? double(pieces) / double(words) : 0.0,
                pieces ? 100.0 * double(unknown) / double(pieces) : 0.0);
  });
}
