#include "data/dataset.h"

#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"

namespace couture {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string text_field(const json& line, const char* key) {
  auto it = line.find(key);
  return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json read_info(const fs::path& dir) {
  fs::path path = dir / "dataset.json";
  COUTURE_CHECK_INPUT(fs::exists(path), "'", dir.string(), "' is not a prepared dataset: no dataset.json (run couture prepare)");
  const json info = read_json_file(path);
  COUTURE_CHECK_INPUT(info.is_object(), "'", path.string(), "': not a JSON object");
  COUTURE_CHECK_INPUT(info.value("format", "") == kDatasetFormat, "'", path.string(), "': format is not '",
                      kDatasetFormat, "'");
  COUTURE_CHECK_INPUT(info.value("version", 0) == int(kDatasetVersion), "'", path.string(), "': version ",
                      info.value("version", 0), " is not supported (this build reads version ", kDatasetVersion, ")");
  return info;
}

}  // namespace

std::string encode_images_header(const ImagesHeader& h) {
  std::string out(kImagesMagic, sizeof kImagesMagic);
  put_le(out, h.version, 4);
  put_le(out, h.height, 4);
  put_le(out, h.width, 4);
  put_le(out, h.channels, 4);
  put_le(out, h.count, 8);
  out.resize(kImagesHeaderBytes, '\0');
  return out;
}

ImagesHeader decode_images_header(const uint8_t* data, size_t size, const std::string& source) {
  COUTURE_CHECK_INPUT(size >= kImagesHeaderBytes && std::memcmp(data, kImagesMagic, sizeof kImagesMagic) == 0, "'",
                      source, "': not a couture images file (bad magic)");
  ImagesHeader h;
  h.version = uint32_t(get_le(data + 8, 4));
  h.height = uint32_t(get_le(data + 12, 4));
  h.width = uint32_t(get_le(data + 16, 4));
  h.channels = uint32_t(get_le(data + 20, 4));
  h.count = get_le(data + 24, 8);
  COUTURE_CHECK_INPUT(h.version == kDatasetVersion, "'", source, "': version ", h.version,
                      " is not supported (this build reads version ", kDatasetVersion, ")");
  COUTURE_CHECK_INPUT(h.height > 0 && h.width > 0 && h.height <= uint32_t(kMaxImageSide) &&
                          h.width <= uint32_t(kMaxImageSide) && (h.channels == 1 || h.channels == 3),
                      "'", source, "': bad image shape ", h.height, "x", h.width, "x", h.channels);
  uint64_t payload = size - kImagesHeaderBytes;
  COUTURE_CHECK_INPUT(h.count <= payload / h.record_bytes() && payload == h.count * h.record_bytes(), "'", source,
                      "': holds ", payload, " bytes of records, expected ", h.count, " x ", h.record_bytes(),
                      " (truncated or not finished)");
  return h;
}

json record_to_json(const DatasetRecord& r) {
  return json{{"index", r.index},          {"id", r.id},
              {"source", r.source},        {"part", r.part},
              {"captions", r.captions},    {"category", r.category},
              {"colour", r.colour},        {"sub_colour", r.sub_colour},
              {"print", r.print},          {"main_part", r.main_part},
              {"attributes", r.attributes.is_null() ? json::object() : r.attributes}};
}

DatasetRecord record_from_json(const json& line, const std::string& source) {
  COUTURE_CHECK_INPUT(line.is_object(), source, ": not a JSON object");
  DatasetRecord r;
  auto index = line.find("index");
  COUTURE_CHECK_INPUT(index != line.end() && index->is_number_integer(), source, ": no integer 'index'");
  r.index = index->get<int64_t>();
  r.id = text_field(line, "id");
  r.source = text_field(line, "source");
  r.part = text_field(line, "part");
  auto captions = line.find("captions");
  COUTURE_CHECK_INPUT(captions != line.end() && captions->is_array() && !captions->empty(), source,
                      ": 'captions' is not a non-empty list");
  for (const auto& c : *captions) {
    COUTURE_CHECK_INPUT(c.is_string(), source, ": 'captions' holds a ", c.type_name(), ", not text");
    r.captions.push_back(c.get<std::string>());
  }
  r.main_part = text_field(line, "main_part");
  r.category = text_field(line, "category");
  r.colour = text_field(line, "colour");
  r.sub_colour = text_field(line, "sub_colour");
  r.print = text_field(line, "print");
  if (auto a = line.find("attributes"); a != line.end()) r.attributes = *a;
  return r;
}

Dataset Dataset::open(const fs::path& dir, const std::string& split) {
  Dataset ds;
  ds.dir_ = dir;
  ds.split_ = split;
  ds.info_ = std::make_shared<const json>(read_info(dir));
  fs::path images_path = dir / (split + ".images"), captions_path = dir / (split + ".captions.jsonl");
  COUTURE_CHECK_INPUT(fs::exists(images_path), "'", dir.string(), "': no split '", split, "' (", images_path.filename().string(),
                      " is missing)");
  ds.images_ = MappedFile::open(images_path);
  ds.header_ = decode_images_header(ds.images_->data(), ds.images_->size(), images_path.string());
  ds.captions_ = MappedFile::open(captions_path);

  auto starts = std::make_shared<std::vector<uint64_t>>();
  starts->reserve(ds.header_.count + 1);
  const char* text = reinterpret_cast<const char*>(ds.captions_->data());
  size_t size = ds.captions_->size(), at = 0;
  while (at < size) {
    starts->push_back(at);
    const void* nl = std::memchr(text + at, '\n', size - at);
    at = nl ? size_t(static_cast<const char*>(nl) - text) + 1 : size;
  }
  COUTURE_CHECK_INPUT(starts->size() == ds.header_.count, "'", captions_path.string(), "': ", starts->size(),
                      " lines for ", ds.header_.count, " images in ", images_path.filename().string());
  starts->push_back(size);
  ds.line_starts_ = std::move(starts);
  return ds;
}

void Dataset::check_index(int64_t i) const {
  COUTURE_CHECK(i >= 0 && i < size(), "dataset '", dir_.string(), "' split ", split_, ": record ", i,
                " out of range (", size(), " records)");
}

ImageView Dataset::image(int64_t i) const {
  check_index(i);
  return {images_->data() + kImagesHeaderBytes + size_t(i) * header_.record_bytes(), height(), width(), channels()};
}

Image Dataset::image_copy(int64_t i) const {
  ImageView v = image(i);
  Image img = make_image(v.width, v.height, v.channels);
  std::memcpy(img.pixels.data(), v.data, img.pixels.size());
  return img;
}

DatasetRecord Dataset::record(int64_t i) const {
  check_index(i);
  const auto& starts = *line_starts_;
  const char* text = reinterpret_cast<const char*>(captions_->data());
  std::string where = (dir_ / (split_ + ".captions.jsonl")).string() + " line " + std::to_string(i + 1);
  json line = json::parse(text + starts[i], text + starts[i + 1], nullptr, false);
  COUTURE_CHECK_INPUT(!line.is_discarded(), "'", where, "': not valid JSON");
  DatasetRecord r = record_from_json(line, where);
  COUTURE_CHECK_INPUT(r.index == i, "'", where, "': index ", r.index, " out of order");
  return r;
}

std::vector<std::string> dataset_splits(const fs::path& dir) {
  json info = read_info(dir);
  std::vector<std::string> out;
  if (auto s = info.find("splits"); s != info.end() && s->is_object())
    for (const auto& [name, _] : s->items()) out.push_back(name);
  return out;
}

}  // namespace couture
