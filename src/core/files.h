// Files the way every module reads them: JSON files that name themselves when they are bad, and models given as a
// run folder or as the file itself.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace couture {

// The parsed file. InputError naming the file when it cannot be read or is not JSON ("'F': not valid JSON (...)").
nlohmann::json read_json_file(const std::filesystem::path& path);
nlohmann::ordered_json read_ordered_json_file(const std::filesystem::path& path);
// For what a program wrote itself and may find missing or torn (earlier settings, caches): null when the file is
// absent, unreadable or not JSON.
nlohmann::json read_json_file_or_null(const std::filesystem::path& path);

// A model given as a run folder (`couture train ... --out RUN`) or as its file: RUN/name, or the file itself.
// InputError naming the path when the folder does not hold `name` (an unfinished run) or the file does not exist.
std::filesystem::path run_file(const std::filesystem::path& run_or_file, const std::string& name);

}  // namespace couture
