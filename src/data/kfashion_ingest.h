// `couture prepare kfashion`: K-Fashion label files + photos -> a prepared dataset (data/dataset.h).
// Two passes: every label is parsed first (cheap) to plan the samples, the class cap and the split; then the photos
// are decoded, cropped and resized on worker threads, committed in input order through the resumable journal.
// Bad input never stops the run: each skipped file or part is listed with its reason in DATASET/skipped.jsonl.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "data/crop.h"
#include "text/caption.h"

namespace couture {

enum class CropMode {
  outfit,  // "union": one sample per photo, the union of the labelled rectangles, all parts' sentences
  part,    // one sample per labelled part: its rectangle, its sentences only
};

enum class SplitMode {
  hash,    // test when a hash of the file id falls below test_fraction: the same on every run and machine
  folder,  // the label's first folder decides (train/training/학습 -> train, test/val/validation/검증 -> test)
};

struct IngestOptions {
  std::filesystem::path labels_dir, images_dir, out_dir;
  int size = 256;
  CropMode crop = CropMode::outfit;
  ResizeMode resize = ResizeMode::pad;
  kfashion::CaptionOptions captions;
  bool keep_unknown_values = false;
  int64_t max_per_class = 0;  // 0: no cap
  double test_fraction = 0.05;
  SplitMode split = SplitMode::hash;
  int threads = 0;             // 0: couture::threads()
  nlohmann::ordered_json origin;  // recorded in dataset.json (e.g. how Couture-FMNIST made the inputs)
};

struct IngestReport {
  std::filesystem::path out_dir;
  int64_t label_files = 0;        // .json files found under --labels
  int64_t files_with_records = 0;
  int64_t records[2] = {0, 0};    // train, test
  int64_t reused_files = 0;       // taken from an earlier run's journal
  int64_t processed_files = 0;    // photos decoded in this run
  int64_t capped = 0;             // samples left out by --max-per-class
  int64_t noted_files = 0;        // kept, with notes (unusual values, ignored keys)
  std::map<std::string, int64_t> skipped;  // by reason
  double seconds = 0;
};

IngestReport ingest_kfashion(const IngestOptions& options);

// The end-of-run table: read, kept, reused, skipped by reason.
std::string format_report(const IngestReport& report);

// "train" or "test" for a label file under --labels (path relative to it, with '/').
std::string split_of(const std::string& label_rel, double test_fraction, SplitMode mode);

const char* crop_mode_name(CropMode mode);
const char* resize_mode_name(ResizeMode mode);
const char* split_mode_name(SplitMode mode);

}  // namespace couture
