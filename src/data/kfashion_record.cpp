#include "data/kfashion_record.h"

#include <algorithm>
#include <cstdio>

#include "core/atomic_file.h"
#include "core/log.h"
#include "data/stable_hash.h"

namespace couture {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using kfashion::Label;
using kfashion::Part;

namespace {

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// A bare file name from label text: no folders, so a label cannot point outside --images.
std::string file_name_only(std::string s) {
  std::replace(s.begin(), s.end(), '\\', '/');
  std::string name = fs::path(s).filename().string();
  return name == "." || name == ".." ? "" : name;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string without_extension(const std::string& rel) {
  fs::path p(rel);
  return p.parent_path().empty() ? p.stem().string() : (p.parent_path() / p.stem()).generic_string();
}

json attribute_values(const kfashion::Attribute& a) {
  if (!a.is_list && a.values.size() == 1) return a.values.front();
  return a.values;
}

json attributes_of(const Label& label, const std::vector<const Part*>& parts) {
  json out = json::object();
  for (const auto& part : label.parts) {
    bool wanted = (part.is_style() && !part.empty()) || std::find(parts.begin(), parts.end(), &part) != parts.end();
    if (!wanted) continue;
    json values = json::object();
    for (const auto& a : part.attributes) values[a.name] = attribute_values(a);
    out[part.name] = std::move(values);
  }
  return out;
}

std::string rect_text(const Part& part) {
  if (!part.rect) return part.name + " has no rectangle";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s rectangle x %.1f y %.1f size %.1f x %.1f", part.name.c_str(), part.rect->x,
                part.rect->y, part.rect->width, part.rect->height);
  return buf;
}

}  // namespace

std::string lower_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

LoadedLabel load_label(const fs::path& labels_dir, const std::string& rel, const kfashion::ParseOptions& parse) {
  LoadedLabel out;
  std::string bytes;
  try {
    bytes = read_file(labels_dir / rel);
  } catch (const std::exception& e) {
    out.skip = skip_entry(rel, "", kUnreadableLabelFile, e.what());
    return out;
  }
  out.hash = hex(stable_hash(bytes));
  try {
    out.label = kfashion::parse_label(bytes, parse);
  } catch (const kfashion::LabelError& e) {
    out.skip = skip_entry(rel, "", e.reason(), e.detail());
  }
  return out;
}

std::vector<const Part*> garment_parts(const Label& label) {
  std::vector<const Part*> out;
  for (const auto& p : label.parts)
    if (!p.is_style() && !p.empty()) out.push_back(&p);
  return out;
}

const Part* main_part(const Label& label) {
  const Part* best = nullptr;
  double best_area = -1;
  for (const Part* p : garment_parts(label)) {
    double area = p->rect ? std::max(0.0, p->rect->width) * std::max(0.0, p->rect->height) : 0.0;
    if (area > best_area) best = p, best_area = area;
  }
  return best;
}

std::optional<fs::path> ImageFinder::find(const std::string& label_rel, const Label& label) {
  std::vector<std::string> names;
  if (std::string n = file_name_only(label.image_file); !n.empty()) names.push_back(n);
  for (const std::string& base : {label.image_id, fs::path(label_rel).stem().string()}) {
    if (base.empty() || file_name_only(base) != base) continue;
    for (const char* ext : {".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"}) names.push_back(base + ext);
  }
  fs::path sub = fs::path(label_rel).parent_path();
  for (const fs::path& dir : {dir_ / sub, dir_})
    for (const auto& n : names)
      if (is_file(dir / n)) return dir / n;

  std::call_once(indexed_, [&] {
    log::info("indexing the photos under '" + dir_.string() + "' (some labels name photos elsewhere)");
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir_, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec)) index_[lower_ascii(it->path().filename().string())].push_back(it->path());
    for (auto& [_, paths] : index_) std::sort(paths.begin(), paths.end());
  });
  for (const auto& n : names) {
    auto it = index_.find(lower_ascii(n));
    if (it == index_.end()) continue;
    for (const auto& p : it->second)
      if (p.parent_path() == dir_ / sub) return p;
    return it->second.front();
  }
  return std::nullopt;
}

json ImageFinder::signature(const std::optional<fs::path>& image, const fs::path& images_dir) {
  if (!image) return nullptr;
  std::error_code ec;
  auto size = fs::file_size(*image, ec);
  auto mtime = fs::last_write_time(*image, ec);
  return {{"path", fs::relative(*image, images_dir, ec).generic_string()},
          {"size", ec ? 0 : size},
          {"mtime", int64_t(mtime.time_since_epoch().count())}};
}

std::string samples_key(const std::vector<SampleSpec>& samples) {
  std::string key;
  for (const auto& s : samples) key += (key.empty() ? "" : ",") + s.part + ":" + s.split;
  return key;
}

json skip_entry(const std::string& file, const std::string& part, const std::string& reason,
                const std::string& detail) {
  json e = {{"file", file}};
  if (!part.empty()) e["part"] = part;
  e["reason"] = reason;
  e["detail"] = detail;
  return e;
}

FileOutcome make_records(const std::string& rel, const std::vector<SampleSpec>& samples, const RecordOptions& options,
                         ImageFinder& finder) {
  FileOutcome out;
  json& e = out.entry;
  e = {{"file", rel}, {"label_hash", ""}, {"samples", samples_key(samples)}, {"image", nullptr},
       {"records", json::array()}, {"skipped", json::array()}};
  auto skip = [&](const std::string& part, const std::string& reason, const std::string& detail) {
    e["skipped"].push_back(skip_entry(rel, part, reason, detail));
  };

  LoadedLabel loaded = load_label(options.labels_dir, rel, options.parse);
  e["label_hash"] = loaded.hash;
  if (!loaded.label) {
    e["skipped"].push_back(std::move(loaded.skip));
    return out;
  }
  const Label& label = *loaded.label;

  auto image_path = finder.find(rel, label);
  e["image"] = ImageFinder::signature(image_path, options.images_dir);
  if (!image_path) {
    skip("", kMissingImage, "no photo '" + label.image_file + "' (nor one named by the id or the label) under '" +
                                options.images_dir.string() + "'");
    return out;
  }
  Image photo;
  try {
    photo = read_image(*image_path, 3);
  } catch (const std::exception& ex) {
    skip("", kUnreadableImage, ex.what());
    return out;
  }
  // Rectangles are in the labelled photo's pixels; a resized copy of the photos scales them.
  double sx = label.width > 0 ? double(photo.width) / label.width : 1.0;
  double sy = label.height > 0 ? double(photo.height) / label.height : 1.0;

  for (const auto& sample : samples) {
    bool outfit = sample.part == kOutfitPart;
    std::vector<const Part*> parts;
    if (outfit) {
      parts = garment_parts(label);
    } else if (const Part* p = label.find(sample.part); p && !p->empty()) {
      parts.push_back(p);
    }
    std::string part_name = outfit ? "" : sample.part;
    if (parts.empty()) {
      skip(part_name, kNoGarment, "no labelled garment part");
      continue;
    }
    std::optional<PixelBox> box;
    std::string rects;
    for (const Part* p : parts) {
      if (!p->rect) continue;
      rects += (rects.empty() ? "" : "; ") + rect_text(*p);
      if (auto b = clip_rect(*p->rect, photo.width, photo.height, sx, sy)) box = box ? union_box(*box, *b) : *b;
    }
    if (!box) {
      if (rects.empty())
        skip(part_name, kMissingRect, "no 렉트좌표 for the labelled parts");
      else
        skip(part_name, kBadRect, rects + " leaves nothing of the " + std::to_string(photo.width) + "x" +
                                      std::to_string(photo.height) + " photo");
      continue;
    }
    out.images.push_back(crop_square(photo, *box, options.size, options.resize));

    std::vector<std::string> only = outfit ? std::vector<std::string>{} : std::vector<std::string>{sample.part};
    const Part* main = outfit ? main_part(label) : parts.front();
    std::string print;
    if (const auto* a = main->find("프린트"); a && !a->values.empty()) print = a->values.front();
    e["records"].push_back({{"split", sample.split},
                            {"id", without_extension(rel)},
                            {"source", rel},
                            {"part", sample.part},
                            {"captions", {kfashion::full_caption(label, options.captions, only),
                                          kfashion::short_caption(label, only)}},
                            {"category", main->first_value("카테고리")},
                            {"colour", main->first_value("색상")},
                            {"sub_colour", main->first_value("서브색상")},
                            {"print", print},
                            {"main_part", main->name},
                            {"attributes", attributes_of(label, parts)}});
  }
  return out;
}

}  // namespace couture
