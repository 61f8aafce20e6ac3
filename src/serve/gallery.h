// The studio's gallery: every finished job, kept across restarts under a data folder (`couture serve --data DIR`).
//   DIR/gallery.sqlite3   the index: one row a job (its prompt, what it was read as, favourite, its record as JSON)
//   DIR/jobs/<id>/        job.json (the record), rank-00.png ... (every candidate in rank order, with its PNG
//                         parameters text), contact.png (the contact sheet)
// A crash never leaves a half job in the index: a job's folder is written whole under a temporary name and renamed
// into place before its row is inserted; opening the gallery removes temporary folders, indexes a folder whose row
// is missing (a crash between the rename and the insert) and forgets rows whose folder is gone. Deleting moves the
// folder aside before the row goes, so a deleted job never comes back. Thread-safe. docs/serve.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace couture {

struct GalleryQuery {
  std::string text;                     // words the prompt must hold, each (case aside); "" for any
  std::string category, colour, print;  // what the prompt was read as, label values ("셔츠", "레드"); "" for any
  bool favourites = false;              // favourites only
  int64_t limit = 24, offset = 0;       // newest first
};

struct GalleryPage {
  int64_t total = 0;                 // jobs matching the query, all pages
  std::vector<nlohmann::json> items;  // the records of this page (without the candidates' codes), "favourite" added
};

class Gallery {
 public:
  // Opens the gallery in `dir`, creating it, and recovers from an interrupted write. InputError naming the folder
  // or the index when it cannot be created or read.
  explicit Gallery(const std::filesystem::path& dir);
  ~Gallery();
  Gallery(const Gallery&) = delete;
  Gallery& operator=(const Gallery&) = delete;

  // Stores one finished job. `record` needs "id" (16 hex digits), "created" (Unix seconds), "prompt" and
  // "results" (one object per candidate, in rank order); "understood" (parse_prompt's JSON) fills the attribute
  // columns. `pngs` holds the candidates' PNGs in rank order. Replaces a job stored with the same id.
  void add(const nlohmann::json& record, const std::vector<std::string>& pngs, const std::string& contact_png);
  std::optional<nlohmann::json> get(const std::string& id) const;  // the record with "favourite"
  GalleryPage list(const GalleryQuery& query) const;
  std::optional<std::string> png(const std::string& id, size_t rank) const;
  std::optional<std::string> contact_sheet(const std::string& id) const;
  bool set_favourite(const std::string& id, bool favourite);  // false when there is no such job
  bool remove(const std::string& id);                         // false when there is no such job
  int64_t size() const;
  const std::filesystem::path& dir() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where `couture serve` keeps its gallery unless told --data: $XDG_DATA_HOME/couture, else
// ~/.local/share/couture, else ./couture-data.
std::filesystem::path default_data_dir();

}  // namespace couture
