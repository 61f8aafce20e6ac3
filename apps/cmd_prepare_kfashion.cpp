// couture prepare kfashion: AIHub K-Fashion label files + photos -> a prepared dataset (docs/data.md).
#include <cstdio>

#include "command.h"
#include "data/kfashion_ingest.h"

namespace {

struct Opts {
  std::string labels, images, out, crop = "union", resize = "pad", compat = "couture", split = "hash";
  int size = 256;
  bool keep_style = false, keep_unknown = false;
  int64_t max_per_class = 0;
  double test_fraction = 0.05;
};

}  // namespace

COUTURE_COMMAND("prepare kfashion", "Turn K-Fashion label files and photos into a training dataset") {
  static Opts o;
  cmd.add_option("--labels", o.labels, "Folder of K-Fashion label files (*.json, searched recursively)")->required();
  cmd.add_option("--images", o.images, "Folder of the photos (searched beside each label's sub-folder, then all)")
      ->required();
  cmd.add_option("--out", o.out, "Dataset folder to write (re-running resumes)")->required();
  cmd.add_option("--size", o.size, "Side of the square training images")->check(CLI::Range(8, 4096));
  cmd.add_option("--crop", o.crop, "union: one crop per photo around every labelled part; part: one per part")
      ->check(CLI::IsMember({"union", "part"}));
  cmd.add_option("--resize", o.resize, "pad: keep the aspect, pad with white; squash: stretch (the original)")
      ->check(CLI::IsMember({"pad", "squash"}));
  cmd.add_option("--caption-compat", o.compat, "couture: all values of a list; kodalle: the last only (original)")
      ->check(CLI::IsMember({"couture", "kodalle"}));
  cmd.add_flag("--keep-style", o.keep_style, "Keep the 스타일 sentences in the full captions");
  cmd.add_flag("--keep-unknown", o.keep_unknown,
               "Keep records whose 카테고리/색상/서브색상/프린트 is outside the known vocabulary (noted, not skipped)");
  cmd.add_option("--max-per-class", o.max_per_class, "Cap on samples per 카테고리 (0: no cap)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--test-fraction", o.test_fraction, "Share of files in the test split (by a hash of the file id)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--split", o.split, "hash: by file id; folder: by the first folder (Training/Validation, train/test)")
      ->check(CLI::IsMember({"hash", "folder"}));
  cmd.callback([] {
    couture::IngestOptions io;
    io.labels_dir = o.labels;
    io.images_dir = o.images;
    io.out_dir = o.out;
    io.size = o.size;
    io.crop = o.crop == "part" ? couture::CropMode::part : couture::CropMode::outfit;
    io.resize = o.resize == "squash" ? couture::ResizeMode::squash : couture::ResizeMode::pad;
    io.captions.compat = o.compat == "kodalle" ? couture::kfashion::CaptionCompat::kodalle
                                               : couture::kfashion::CaptionCompat::couture;
    io.captions.keep_style = o.keep_style;
    io.keep_unknown_values = o.keep_unknown;
    io.max_per_class = o.max_per_class;
    io.test_fraction = o.test_fraction;
    io.split = o.split == "folder" ? couture::SplitMode::folder : couture::SplitMode::hash;
    auto report = couture::ingest_kfashion(io);
    std::printf("%s", couture::format_report(report).c_str());
  });
}
