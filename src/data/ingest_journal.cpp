#include "data/ingest_journal.h"

#include <unistd.h>

#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace couture {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr double kSyncSeconds = 5.0;

// File names from a Windows archive may not be UTF-8; the journal replaces such bytes rather than failing.
std::string dump_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

void close_file(std::FILE*& f) {
  if (f) std::fclose(f);
  f = nullptr;
}

void flush_to_disk(std::FILE* f, const fs::path& path) {
  COUTURE_CHECK(std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0, "writing '", path.string(), "' failed");
}

bool header_matches(const fs::path& part, const ImagesHeader& shape) {
  std::ifstream in(part, std::ios::binary);
  std::string bytes(kImagesHeaderBytes, '\0');
  if (!in.read(bytes.data(), std::streamsize(bytes.size()))) return false;
  auto expected = encode_images_header(shape);
  // Magic, version and shape must agree; the count (bytes 24..31) is only final after finish().
  return bytes.compare(0, 24, expected, 0, 24) == 0;
}

}  // namespace

IngestJournal::IngestJournal(const fs::path& out_dir, const ImagesHeader& shape, const json& settings)
    : out_(out_dir), work_(out_dir / "work"), shape_(shape) {
  fs::create_directories(work_);
  fs::path settings_path = work_ / "settings.json", journal_path = work_ / "journal.jsonl";
  json wanted = {{"settings", settings}, {"height", shape.height}, {"width", shape.width}, {"channels", shape.channels}};
  bool same = false;
  if (fs::exists(settings_path)) {
    same = read_json_file_or_null(settings_path) == wanted;
    if (!same) log::info("settings differ from the earlier run in '" + out_.string() + "': starting over");
  }
  if (!same) {
    fs::remove(journal_path);
    for (const auto& s : kSplits) fs::remove(work_ / (s + ".images.part"));
    write_file_atomic(settings_path, wanted.dump(2) + "\n");
  }
  // A finished run renamed its partial files into place; take them back so the journal can extend them.
  for (const auto& s : kSplits) {
    fs::path part = work_ / (s + ".images.part"), final_path = out_ / (s + ".images");
    if (fs::exists(journal_path) && !fs::exists(part) && fs::exists(final_path)) fs::rename(final_path, part);
  }
}

IngestJournal::~IngestJournal() {
  close_file(parts_[0]);
  close_file(parts_[1]);
  close_file(journal_);
}

size_t IngestJournal::resume(const std::function<bool(const json&, size_t)>& still_valid) {
  fs::path journal_path = work_ / "journal.jsonl";
  uint64_t sizes[2];
  bool parts_ok = true;
  for (int s = 0; s < 2; ++s) {
    fs::path part = work_ / (kSplits[s] + ".images.part");
    parts_ok = parts_ok && fs::exists(part) && header_matches(part, shape_);
    sizes[s] = parts_ok ? fs::file_size(part) : 0;
  }
  size_t kept = 0;
  uint64_t kept_bytes = 0;
  if (parts_ok && fs::exists(journal_path)) {
    std::ifstream in(journal_path, std::ios::binary);
    uint64_t offset = 0;
    for (std::string line; std::getline(in, line);) {
      if (in.eof()) break;  // a last line without its newline was cut short
      offset += line.size() + 1;
      json entry = json::parse(line, nullptr, false);
      const json* e = entry.is_object() ? &entry["ends"] : nullptr;
      if (!e || !e->is_array() || e->size() != 2 || !(*e)[0].is_number_unsigned() || !(*e)[1].is_number_unsigned())
        break;
      uint64_t ends[2] = {(*e)[0].get<uint64_t>(), (*e)[1].get<uint64_t>()};
      if (ends[0] < ends_[0] || ends[1] < ends_[1] || ends[0] > sizes[0] || ends[1] > sizes[1]) break;
      if (!entry["records"].is_array() || !entry["skipped"].is_array() || !still_valid(entry, kept)) break;
      ends_[0] = ends[0];
      ends_[1] = ends[1];
      kept_bytes = offset;
      ++kept;
    }
  }
  if (!parts_ok) {
    for (int s = 0; s < 2; ++s) {
      ImagesHeader empty = shape_;
      empty.count = 0;
      write_file_atomic(work_ / (kSplits[s] + ".images.part"), encode_images_header(empty));
    }
    ends_[0] = ends_[1] = kImagesHeaderBytes;
  }
  if (fs::exists(journal_path)) fs::resize_file(journal_path, kept_bytes);
  for (int s = 0; s < 2; ++s) fs::resize_file(work_ / (kSplits[s] + ".images.part"), ends_[s]);
  open_parts();
  return kept;
}

void IngestJournal::open_parts() {
  for (int s = 0; s < 2; ++s) {
    fs::path part = work_ / (kSplits[s] + ".images.part");
    parts_[s] = std::fopen(part.c_str(), "r+b");
    COUTURE_CHECK(parts_[s] && std::fseek(parts_[s], 0, SEEK_END) == 0, "cannot open '", part.string(), "'");
  }
  fs::path journal_path = work_ / "journal.jsonl";
  journal_ = std::fopen(journal_path.c_str(), "ab");
  COUTURE_CHECK(journal_, "cannot open '", journal_path.string(), "'");
  last_sync_ = std::chrono::steady_clock::now();
}

void IngestJournal::append(json entry, const std::vector<Image>& images) {
  COUTURE_CHECK(journal_, "IngestJournal::append before resume");
  const auto& records = entry["records"];
  COUTURE_CHECK(records.size() == images.size(), "IngestJournal::append: ", records.size(), " records, ",
                images.size(), " images");
  for (size_t i = 0; i < images.size(); ++i) {
    int s = records[i].value("split", "train") == "test" ? 1 : 0;
    const Image& img = images[i];
    COUTURE_CHECK(img.width == int(shape_.width) && img.height == int(shape_.height) &&
                      img.channels == int(shape_.channels),
                  "IngestJournal::append: image of the wrong shape");
    COUTURE_CHECK(std::fwrite(img.pixels.data(), 1, img.pixels.size(), parts_[s]) == img.pixels.size(), "writing '",
                  (work_ / (kSplits[s] + ".images.part")).string(), "' failed (disk full?)");
    ends_[s] += img.pixels.size();
  }
  entry["ends"] = {ends_[0], ends_[1]};
  pending_ += dump_line(entry);
  if (std::chrono::duration<double>(std::chrono::steady_clock::now() - last_sync_).count() > kSyncSeconds) sync();
}

// The journal may only name bytes that are on the disk: partial files first, then the journal lines.
void IngestJournal::sync() {
  for (int s = 0; s < 2; ++s) flush_to_disk(parts_[s], work_ / (kSplits[s] + ".images.part"));
  if (!pending_.empty())
    COUTURE_CHECK(std::fwrite(pending_.data(), 1, pending_.size(), journal_) == pending_.size(),
                  "writing the journal in '", work_.string(), "' failed (disk full?)");
  flush_to_disk(journal_, work_ / "journal.jsonl");
  pending_.clear();
  last_sync_ = std::chrono::steady_clock::now();
}

IngestJournal::Totals IngestJournal::finish() {
  sync();
  Totals totals;
  fs::path journal_path = work_ / "journal.jsonl";
  for (int s = 0; s < 2; ++s) {
    int64_t index = 0;
    write_file_atomic(out_ / (kSplits[s] + ".captions.jsonl"), [&](const auto& sink) {
      std::ifstream in(journal_path, std::ios::binary);
      for (std::string line; std::getline(in, line);) {
        json entry = json::parse(line);
        if (s == 0) {
          for (auto& skip : entry["skipped"]) totals.skipped.push_back(std::move(skip));
          if (!entry["records"].empty()) ++totals.files_with_records;
        }
        for (auto& record : entry["records"]) {
          if (record.value("split", "train") != kSplits[s]) continue;
          record.erase("split");
          json out = {{"index", index++}};
          for (auto& [k, v] : record.items()) out[k] = std::move(v);
          std::string text = dump_line(out);
          sink(text.data(), text.size());
        }
      }
    });
    totals.records[s] = index;
  }
  for (int s = 0; s < 2; ++s) {
    fs::path part = work_ / (kSplits[s] + ".images.part");
    COUTURE_CHECK(ends_[s] == kImagesHeaderBytes + uint64_t(totals.records[s]) * shape_.record_bytes(), "'",
                  part.string(), "' does not match its journal");
    ImagesHeader header = shape_;
    header.count = uint64_t(totals.records[s]);
    std::string bytes = encode_images_header(header);
    COUTURE_CHECK(std::fseek(parts_[s], 0, SEEK_SET) == 0 &&
                      std::fwrite(bytes.data(), 1, bytes.size(), parts_[s]) == bytes.size(),
                  "writing '", part.string(), "' failed");
    flush_to_disk(parts_[s], part);
    close_file(parts_[s]);
    fs::rename(part, out_ / (kSplits[s] + ".images"));
  }
  close_file(journal_);
  fsync_directory(out_);
  return totals;
}

}  // namespace couture
