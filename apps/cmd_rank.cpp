// couture rank: scores images against one caption with a trained CLIP and prints them best first, as a table and as
// one JSON line. Unreadable images are skipped with one line each naming the file; the command fails only when no
// image could be read (like other batch jobs: keep the good ones, report the bad).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "generate/rerank.h"

namespace {

struct Options {
  std::filesystem::path clip, vocab;
  std::string text;
  std::vector<std::filesystem::path> images;
  bool bf16 = false;
};

void run(const Options& o) {
  auto scorer = couture::ClipScorer::load(o.clip, o.vocab, {.bf16 = o.bf16});
  std::vector<couture::Image> images;
  std::vector<std::string> files;
  nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
  for (const auto& path : o.images) {
    try {
      images.push_back(couture::read_image(path, 3));
      files.push_back(path.string());
    } catch (const std::exception& e) {
      couture::log::warn(std::string("rank: skipped ") + e.what());
      skipped.push_back({{"file", path.string()}, {"error", e.what()}});
    }
  }
  COUTURE_CHECK_INPUT(!images.empty(), "rank: none of the ", o.images.size(), " image files could be read");
  auto scores = scorer.score(o.text, images);
  auto order = couture::rank_order(scores);
  nlohmann::ordered_json ranked = nlohmann::ordered_json::array();
  std::printf("%4s  %9s  %s\n", "rank", "score", "file");
  for (size_t r = 0; r < order.size(); ++r) {
    const int64_t i = order[r];
    const double score = scores[i].item<double>();
    std::printf("%4zu  %9.5f  %s\n", r + 1, score, files[size_t(i)].c_str());
    ranked.push_back({{"rank", r + 1}, {"score", score}, {"file", files[size_t(i)]}});
  }
  nlohmann::ordered_json line = {{"text", o.text},
                                 {"score", scorer.config().loss == couture::ClipLoss::Clip ? "cosine" : "kodalle-logit"},
                                 {"ranked", ranked},
                                 {"skipped", skipped}};
  std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  if (!skipped.empty())
    couture::log::warn("rank: " + std::to_string(images.size()) + " images ranked, " +
                       std::to_string(skipped.size()) + " skipped");
}

}  // namespace

COUTURE_COMMAND("rank", "Score images against a caption with a trained CLIP, best first (table + JSON line)") {
  static Options o;
  cmd.add_option("--clip", o.clip, "A `couture train clip` run folder, or its clip.safetensors")->required();
  cmd.add_option("--text", o.text, "The caption (Korean, as in training)")->required();
  cmd.add_option("--vocab", o.vocab, "Vocabulary (default: vocab.txt beside the model)");
  cmd.add_flag("--bf16", o.bf16, "Run the model in bfloat16 (faster, scores within ~1%)");
  cmd.add_option("images", o.images, "Image files (PNG or JPEG)")->required();
  cmd.callback([] { run(o); });
}
