// Resumable output of `couture prepare`: image records are appended to partial split files in DATASET/work/, and
// one journal line per finished input file says what it gave (records with captions, skips) and where the partial
// files ended. A re-run keeps the longest prefix of journal lines that still matches its inputs and goes on from
// there; the final split files are only put in place (renamed) when everything is done.
#pragma once
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace couture {

inline const std::vector<std::string> kSplits = {"train", "test"};

class IngestJournal {
 public:
  // Opens DATASET/work for a run with `settings` (anything that changes the output): work left by a run with
  // other settings or another image shape is discarded. Final split files of a finished run are taken back as
  // partial files, so new inputs can be added to them.
  IngestJournal(const std::filesystem::path& out_dir, const ImagesHeader& shape, const nlohmann::ordered_json& settings);
  ~IngestJournal();
  IngestJournal(const IngestJournal&) = delete;
  IngestJournal& operator=(const IngestJournal&) = delete;

  // Reads the journal and keeps the entries for which `still_valid(entry, position)` holds, stopping at the first
  // that does not; everything after it is dropped. Returns the number kept.
  size_t resume(const std::function<bool(const nlohmann::ordered_json& entry, size_t position)>& still_valid);

  // Appends one input file's results. `entry` holds "records" (each with a "split") and "skipped"; `images` holds
  // one image per record, in order, of the journal's shape.
  void append(nlohmann::ordered_json entry, const std::vector<Image>& images);

  // Writes S.captions.jsonl (with record indices), puts S.images in place, and returns the records per split and
  // the skip entries of every journal line. dataset.json is the caller's (written last).
  struct Totals {
    int64_t records[2] = {0, 0};
    int64_t files_with_records = 0;
    std::vector<nlohmann::ordered_json> skipped;
  };
  Totals finish();

  const std::filesystem::path& work_dir() const { return work_; }

 private:
  void open_parts();
  void sync();

  std::filesystem::path out_, work_;
  ImagesHeader shape_;
  std::FILE* parts_[2] = {nullptr, nullptr};
  std::FILE* journal_ = nullptr;
  uint64_t ends_[2] = {kImagesHeaderBytes, kImagesHeaderBytes};
  std::string pending_;  // journal lines waiting for the partial files to reach the disk
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace couture
