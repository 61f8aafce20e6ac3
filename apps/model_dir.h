// Where `couture generate`, `serve` and `eval` find a model bundle when --model is not given: $COUTURE_MODEL, else
// models/default in the current folder, else the one in the source tree this binary was built from.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

namespace couture::app {

inline std::string default_model_dir() {
  if (const char* env = std::getenv("COUTURE_MODEL"); env && *env) return env;
  if (std::filesystem::exists("models/default/model.json")) return "models/default";
#ifdef COUTURE_SOURCE_DIR
  const std::filesystem::path built = std::filesystem::path(COUTURE_SOURCE_DIR) / "models/default";
  if (std::filesystem::exists(built / "model.json")) return built.string();
#endif
  return "models/default";
}

}  // namespace couture::app
