#include "serve/gallery.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace couture {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool is_job_id(const std::string& id) {
  static const std::regex pattern("[0-9a-f]{16}");
  return std::regex_match(id, pattern);
}

std::string rank_file(size_t rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%02zu.png", rank);
  return name;
}

// One prepared statement, finalized on scope exit; bind() by 1-based position.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw Error(std::string("gallery index: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& bind(int at, const std::string& text) {
    sqlite3_bind_text(stmt_, at, text.data(), int(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int at, int64_t value) {
    sqlite3_bind_int64(stmt_, at, value);
    return *this;
  }
  Statement& bind(int at, double value) {
    sqlite3_bind_double(stmt_, at, value);
    return *this;
  }
  bool step() {  // true while there is a row
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(std::string("gallery index: ") + sqlite3_errmsg(db_));
  }
  std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(stmt_, column))) : "";
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// The first value of attribute `name` in parse_prompt's JSON ("" when it names none).
std::string understood_value(const json& record, const char* name) {
  const json* attributes = nullptr;
  if (record.contains("understood") && record["understood"].is_object() &&
      record["understood"].contains("attributes") && record["understood"]["attributes"].is_object())
    attributes = &record["understood"]["attributes"];
  if (!attributes || !attributes->contains(name)) return "";
  const json& v = attributes->at(name);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && !v.empty() && v[0].is_string()) return v[0].get<std::string>();
  return "";
}

// LIKE pattern holding `word` literally (\ escapes % and _).
std::string like_pattern(const std::string& word) {
  std::string out = "%";
  for (char c : word) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

json without_codes(json record) {
  if (record.contains("results") && record["results"].is_array())
    for (auto& r : record["results"]) r.erase("codes");
  return record;
}

}  // namespace

struct Gallery::Impl {
  fs::path dir, jobs;
  sqlite3* db = nullptr;
  mutable std::mutex mutex;

  void exec(const char* sql) const {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : "unknown error";
      sqlite3_free(message);
      throw Error("gallery index '" + (dir / "gallery.sqlite3").string() + "': " + why);
    }
  }
  bool has_row(const std::string& id) const {
    Statement s(db, "SELECT 1 FROM jobs WHERE id = ?");
    return s.bind(1, id).step();
  }
  void insert(const json& record) {
    Statement s(db,
                "INSERT OR REPLACE INTO jobs(id, created, prompt, category, colour, print, favourite, record) "
                "VALUES(?, ?, ?, ?, ?, ?, COALESCE((SELECT favourite FROM jobs WHERE id = ?), 0), ?)");
    const std::string id = record.at("id").get<std::string>();
    s.bind(1, id)
        .bind(2, record.at("created").get<double>())
        .bind(3, record.at("prompt").get<std::string>())
        .bind(4, understood_value(record, "카테고리"))
        .bind(5, understood_value(record, "색상"))
        .bind(6, understood_value(record, "프린트"))
        .bind(7, id)
        .bind(8, record.dump(-1, ' ', false, json::error_handler_t::replace));
    s.step();
  }
  // Moves a job's folder out of the way (so that it is gone at once, even if removing its files is interrupted),
  // then removes it.
  void discard_folder(const fs::path& folder) const {
    if (!fs::exists(folder)) return;
    const fs::path trash = jobs / (".trash-" + folder.filename().string() + "-" + std::to_string(::getpid()));
    fs::remove_all(trash);
    fs::rename(folder, trash);
    fsync_directory(jobs);
    fs::remove_all(trash);
  }
  void recover();
};

void Gallery::Impl::recover() {
  // Folders: temporary ones are unfinished writes or interrupted deletes; a finished folder without a row was
  // written just before a crash and is indexed now.
  int indexed = 0, dropped = 0;
  for (const auto& entry : fs::directory_iterator(jobs)) {
    const std::string name = entry.path().filename().string();
    if (!is_job_id(name)) {
      if (name.rfind(".tmp-", 0) == 0 || name.rfind(".trash-", 0) == 0) fs::remove_all(entry.path()), ++dropped;
      continue;
    }
    if (has_row(name)) continue;
    const json record = read_json_file_or_null(entry.path() / "job.json");
    if (record.is_object() && record.value("id", "") == name && record.contains("created") &&
        record.contains("prompt")) {
      insert(record), ++indexed;
    } else {
      discard_folder(entry.path()), ++dropped;
    }
  }
  // Rows whose folder is gone (moved aside by a delete that was interrupted).
  std::vector<std::string> orphans;
  {
    Statement s(db, "SELECT id FROM jobs");
    while (s.step())
      if (!fs::exists(jobs / s.text(0) / "job.json")) orphans.push_back(s.text(0));
  }
  for (const auto& id : orphans) Statement(db, "DELETE FROM jobs WHERE id = ?").bind(1, id).step();
  if (indexed || dropped || !orphans.empty())
    log::info("gallery: recovered " + dir.string() + ": " + std::to_string(indexed) + " job(s) indexed, " +
              std::to_string(dropped) + " unfinished folder(s) removed, " + std::to_string(orphans.size()) +
              " row(s) without files forgotten");
}

Gallery::Gallery(const fs::path& dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = dir;
  impl_->jobs = dir / "jobs";
  std::error_code ec;
  fs::create_directories(impl_->jobs, ec);
  COUTURE_CHECK_INPUT(!ec && fs::is_directory(impl_->jobs), "--data '", dir.string(),
                      "': cannot create the gallery folder (", ec ? ec.message() : "not a folder", ")");
  const fs::path index = dir / "gallery.sqlite3";
  if (sqlite3_open_v2(index.c_str(), &impl_->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = impl_->db ? sqlite3_errmsg(impl_->db) : "out of memory";
    sqlite3_close(impl_->db);
    throw InputError("gallery index '" + index.string() + "': " + why);
  }
  sqlite3_busy_timeout(impl_->db, 5000);
  try {
    // WAL with full syncs: a committed row survives a crash or power loss, and readers never wait for a writer.
    impl_->exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    impl_->exec(
        "CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, created REAL NOT NULL, prompt TEXT NOT NULL, "
        "category TEXT NOT NULL, colour TEXT NOT NULL, print TEXT NOT NULL, favourite INTEGER NOT NULL, "
        "record TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs(created DESC, id DESC);");
    impl_->recover();
  } catch (const Error& e) {
    sqlite3_close(impl_->db);
    throw InputError(std::string(e.what()) + " (is '" + index.string() + "' a Couture gallery?)");
  }
}

Gallery::~Gallery() { sqlite3_close(impl_->db); }

const fs::path& Gallery::dir() const { return impl_->dir; }

void Gallery::add(const json& record, const std::vector<std::string>& pngs, const std::string& contact_png) {
  const std::string id = record.value("id", "");
  COUTURE_CHECK(is_job_id(id) && record.contains("created") && record.contains("prompt"),
                "gallery: a record needs an id of 16 hex digits, created and prompt");
  std::lock_guard lock(impl_->mutex);
  const fs::path folder = impl_->jobs / id;
  const fs::path temporary = impl_->jobs / (".tmp-" + id + "-" + std::to_string(::getpid()));
  fs::remove_all(temporary);
  fs::create_directories(temporary);
  for (size_t rank = 0; rank < pngs.size(); ++rank) write_file_atomic(temporary / rank_file(rank), pngs[rank]);
  if (!contact_png.empty()) write_file_atomic(temporary / "contact.png", contact_png);
  write_file_atomic(temporary / "job.json", record.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  impl_->discard_folder(folder);
  fs::rename(temporary, folder);
  fsync_directory(impl_->jobs);
  impl_->insert(record);
}

std::optional<json> Gallery::get(const std::string& id) const {
  if (!is_job_id(id)) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db, "SELECT record, favourite FROM jobs WHERE id = ?");
  if (!s.bind(1, id).step()) return std::nullopt;
  json record = json::parse(s.text(0), nullptr, false);
  if (record.is_discarded()) return std::nullopt;
  record["favourite"] = s.integer(1) != 0;
  return record;
}

GalleryPage Gallery::list(const GalleryQuery& q) const {
  std::string where = " WHERE 1";
  std::vector<std::string> texts;
  std::string word;
  for (size_t i = 0; i <= q.text.size(); ++i) {
    const char c = i < q.text.size() ? q.text[i] : ' ';
    if (c == ' ' || c == '\t' || c == '\n' || c == ',') {
      if (!word.empty()) texts.push_back(like_pattern(word)), where += " AND prompt LIKE ? ESCAPE '\\'";
      word.clear();
    } else {
      word += c;
    }
  }
  for (const auto& [column, value] : {std::pair{"category", &q.category}, {"colour", &q.colour}, {"print", &q.print}})
    if (!value->empty()) texts.push_back(*value), where += std::string(" AND ") + column + " = ?";
  if (q.favourites) where += " AND favourite = 1";
  auto bind_all = [&](Statement& s) {
    int at = 1;
    for (const auto& t : texts) s.bind(at++, t);
    return at;
  };
  std::lock_guard lock(impl_->mutex);
  GalleryPage page;
  {
    Statement count(impl_->db, ("SELECT COUNT(*) FROM jobs" + where).c_str());
    bind_all(count);
    if (count.step()) page.total = count.integer(0);
  }
  Statement s(impl_->db, ("SELECT record, favourite FROM jobs" + where +
                          " ORDER BY created DESC, id DESC LIMIT ? OFFSET ?").c_str());
  const int at = bind_all(s);
  s.bind(at, q.limit).bind(at + 1, q.offset);
  while (s.step()) {
    json record = json::parse(s.text(0), nullptr, false);
    if (record.is_discarded()) continue;
    record = without_codes(std::move(record));
    record["favourite"] = s.integer(1) != 0;
    page.items.push_back(std::move(record));
  }
  return page;
}

std::optional<std::string> Gallery::png(const std::string& id, size_t rank) const {
  if (!is_job_id(id)) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  const fs::path file = impl_->jobs / id / rank_file(rank);
  if (!impl_->has_row(id) || !fs::exists(file)) return std::nullopt;
  return read_file(file);
}

std::optional<std::string> Gallery::contact_sheet(const std::string& id) const {
  if (!is_job_id(id)) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  const fs::path file = impl_->jobs / id / "contact.png";
  if (!impl_->has_row(id) || !fs::exists(file)) return std::nullopt;
  return read_file(file);
}

bool Gallery::set_favourite(const std::string& id, bool favourite) {
  if (!is_job_id(id)) return false;
  std::lock_guard lock(impl_->mutex);
  Statement(impl_->db, "UPDATE jobs SET favourite = ? WHERE id = ?").bind(1, int64_t(favourite)).bind(2, id).step();
  return sqlite3_changes(impl_->db) > 0;
}

bool Gallery::remove(const std::string& id) {
  if (!is_job_id(id)) return false;
  std::lock_guard lock(impl_->mutex);
  if (!impl_->has_row(id)) return false;
  impl_->discard_folder(impl_->jobs / id);
  Statement(impl_->db, "DELETE FROM jobs WHERE id = ?").bind(1, id).step();
  return true;
}

int64_t Gallery::size() const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db, "SELECT COUNT(*) FROM jobs");
  return s.step() ? s.integer(0) : 0;
}

fs::path default_data_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg == '/') return fs::path(xdg) / "couture";
  if (const char* home = std::getenv("HOME"); home && *home == '/') return fs::path(home) / ".local/share/couture";
  return fs::current_path() / "couture-data";
}

}  // namespace couture
