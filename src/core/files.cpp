#include "core/files.h"

#include "core/atomic_file.h"
#include "core/error.h"

namespace couture {
namespace fs = std::filesystem;
namespace {

template <class Json>
Json parse_json_file(const fs::path& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("'" + path.string() + "': not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

nlohmann::json read_json_file(const fs::path& path) { return parse_json_file<nlohmann::json>(path); }

nlohmann::ordered_json read_ordered_json_file(const fs::path& path) {
  return parse_json_file<nlohmann::ordered_json>(path);
}

nlohmann::json read_json_file_or_null(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return nullptr;
  try {
    auto j = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? nlohmann::json() : j;
  } catch (const Error&) {
    return nullptr;
  }
}

fs::path run_file(const fs::path& run_or_file, const std::string& name) {
  if (fs::is_directory(run_or_file)) {
    const fs::path file = run_or_file / name;
    COUTURE_CHECK_INPUT(fs::is_regular_file(file), "'", run_or_file.string(), "' is a run folder without ", name,
                        " (has its training finished?)");
    return file;
  }
  COUTURE_CHECK_INPUT(fs::is_regular_file(run_or_file), "'", run_or_file.string(),
                      "' does not exist (expected a run folder or its ", name, ")");
  return run_or_file;
}

}  // namespace couture
