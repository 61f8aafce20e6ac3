// The prepared training dataset (written by `couture prepare`, read by the VQGAN, DALL-E and CLIP trainers).
// A folder holds dataset.json (format, version, image size, per-split counts, settings, skip counts), and per split
// S in {train, test}:
//   S.images            little-endian: "CTRIMGS\0", u32 version, u32 height, u32 width, u32 channels, u64 count,
//                       zero padding to 64 bytes, then count records of height*width*channels uint8 (HWC, RGB)
//   S.captions.jsonl    one JSON object per record, same order: index, id, source, part, captions [full, short],
//                       category, colour, sub_colour, print, main_part, attributes
// plus skipped.jsonl (every input left out, with its reason). docs/data.md describes the fields.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/mmap.h"

namespace couture {

inline constexpr char kImagesMagic[8] = {'C', 'T', 'R', 'I', 'M', 'G', 'S', '\0'};
inline constexpr uint32_t kDatasetVersion = 1;
inline constexpr size_t kImagesHeaderBytes = 64;
inline constexpr const char* kDatasetFormat = "couture-dataset";

struct ImagesHeader {
  uint32_t version = kDatasetVersion;
  uint32_t height = 0, width = 0, channels = 3;
  uint64_t count = 0;
  size_t record_bytes() const { return size_t(height) * width * channels; }
};

std::string encode_images_header(const ImagesHeader& header);  // exactly kImagesHeaderBytes
// Checks magic, version and sizes; `source` names the file in errors.
ImagesHeader decode_images_header(const uint8_t* data, size_t size, const std::string& source);

// One line of S.captions.jsonl.
struct DatasetRecord {
  int64_t index = 0;
  std::string id;                     // the label file's path under --labels, without extension
  std::string source;                 // the label file's path under --labels
  std::string part;                   // "all" for a crop of the whole outfit, else the part (상의, ...)
  std::vector<std::string> captions;  // [full, short]
  std::string main_part;              // the part category/colour/print describe (docs/data.md)
  std::string category, colour, sub_colour, print;
  nlohmann::ordered_json attributes;  // {part: {attribute: value or [values]}} in label order
};

nlohmann::ordered_json record_to_json(const DatasetRecord& record);
DatasetRecord record_from_json(const nlohmann::ordered_json& line, const std::string& source);

// A zero-copy view of one image record, valid while its Dataset (or a copy of it) lives.
struct ImageView {
  const uint8_t* data = nullptr;  // HWC
  int height = 0, width = 0, channels = 0;
};

// One split of a prepared dataset: the images file memory-mapped, the captions indexed by line and parsed on demand.
class Dataset {
 public:
  // Validates dataset.json, the images header and size, and that both files hold the same number of records;
  // couture::InputError naming the file otherwise.
  static Dataset open(const std::filesystem::path& dir, const std::string& split = "train");

  int64_t size() const { return int64_t(header_.count); }
  int height() const { return int(header_.height); }
  int width() const { return int(header_.width); }
  int channels() const { return int(header_.channels); }
  ImageView image(int64_t i) const;
  Image image_copy(int64_t i) const;
  DatasetRecord record(int64_t i) const;
  const nlohmann::ordered_json& info() const { return *info_; }  // dataset.json
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& split() const { return split_; }

 private:
  void check_index(int64_t i) const;

  std::filesystem::path dir_;
  std::string split_;
  ImagesHeader header_;
  std::shared_ptr<const MappedFile> images_, captions_;
  std::shared_ptr<const std::vector<uint64_t>> line_starts_;  // count + 1 offsets into captions_
  std::shared_ptr<const nlohmann::ordered_json> info_;
};

// The splits dataset.json lists (in its order), e.g. {"train", "test"}.
std::vector<std::string> dataset_splits(const std::filesystem::path& dir);

}  // namespace couture
