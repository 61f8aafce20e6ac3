// One K-Fashion label file to training records: find its photo, crop (the whole outfit or one part), captions and
// attributes. Runs on the ingest's worker threads; the result becomes one journal line.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/crop.h"
#include "io/image.h"
#include "text/caption.h"
#include "text/kfashion_labels.h"

namespace couture {

// Skip reasons of the image stage (the label stage's are in text/kfashion_labels.h).
inline constexpr const char* kUnreadableLabelFile = "unreadable label file";
inline constexpr const char* kNoGarment = "no labelled garment";
inline constexpr const char* kMissingRect = "missing rectangle";
inline constexpr const char* kBadRect = "bad rectangle";
inline constexpr const char* kMissingImage = "missing image";
inline constexpr const char* kUnreadableImage = "unreadable image";

inline constexpr const char* kOutfitPart = "all";  // the `part` of a crop of the whole outfit

struct RecordOptions {
  std::filesystem::path labels_dir, images_dir;
  int size = 256;
  ResizeMode resize = ResizeMode::pad;
  kfashion::CaptionOptions captions;
  kfashion::ParseOptions parse;
};

// The parts that describe a garment: labelled, not 스타일.
std::vector<const kfashion::Part*> garment_parts(const kfashion::Label& label);
// The part that category, colour and print describe for a crop of several parts: the garment part with the largest
// labelled rectangle (no rectangle counts as 0), the first in label order on a tie. nullptr when none.
const kfashion::Part* main_part(const kfashion::Label& label);

// Finds the photo of a label under --images: 이미지 파일명, then <이미지 식별자> and <label name> with .jpg/.jpeg/.png
// (AIHub names the photos by id), each beside the label's own sub-folder first; then, once, an index of every file
// under --images by name. Thread-safe.
class ImageFinder {
 public:
  explicit ImageFinder(std::filesystem::path images_dir) : dir_(std::move(images_dir)) {}
  std::optional<std::filesystem::path> find(const std::string& label_rel, const kfashion::Label& label);
  // {"path", "size", "mtime"} of the photo, or null: what the journal compares on a re-run.
  static nlohmann::ordered_json signature(const std::optional<std::filesystem::path>& image,
                                          const std::filesystem::path& images_dir);

 private:
  std::filesystem::path dir_;
  std::once_flag indexed_;
  std::map<std::string, std::vector<std::filesystem::path>> index_;  // lower-case file name -> paths
};

struct SampleSpec {
  std::string part;  // kOutfitPart or a part name
  std::string split;
};

struct FileOutcome {
  nlohmann::ordered_json entry;  // file, label_hash, samples, image, records (with split), skipped
  std::vector<Image> images;     // one per record
};

// One label file read and parsed: `label` is empty and `skip` holds the skipped.jsonl line when it cannot be used.
// `hash` (hex) identifies the bytes read, for the journal.
struct LoadedLabel {
  std::optional<kfashion::Label> label;
  std::string hash;
  nlohmann::ordered_json skip;
};
LoadedLabel load_label(const std::filesystem::path& labels_dir, const std::string& label_rel,
                       const kfashion::ParseOptions& parse);

std::string lower_ascii(std::string text);

// A key naming the planned samples of a file (compared by the journal on a re-run).
std::string samples_key(const std::vector<SampleSpec>& samples);

FileOutcome make_records(const std::string& label_rel, const std::vector<SampleSpec>& samples,
                         const RecordOptions& options, ImageFinder& finder);

// One skipped.jsonl line.
nlohmann::ordered_json skip_entry(const std::string& file, const std::string& part, const std::string& reason,
                                  const std::string& detail);

}  // namespace couture
