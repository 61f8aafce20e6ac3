// Where `couture generate`, `serve` and `eval` find a model bundle when --model is not given: $COUTURE_MODEL, else
// models/default in the current folder, else the one in the source tree this binary was built from.
#pragma once
#include <CLI/CLI.hpp>
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

// How `generate`, `eval generate` and `serve` load the bundle: --bf16, --int8 and --decoder (LoadParams).
inline void add_load_options(CLI::App& cmd, bool& bf16, bool& int8, std::string& decoder) {
  cmd.add_flag("--bf16", bf16, "bf16 weights and matmuls for the transformer, the decoder and the reranker");
  cmd.add_flag("--int8", int8,
               "int8 weights for the transformer's layer products (fastest on AVX-512 VNNI; docs/dalle.md)");
  cmd.add_option("--decoder", decoder,
                 "With --bf16: the decoder's precision, auto (bf16 where faster on this CPU, measured at load), bf16 "
                 "or fp32")
      ->check(CLI::IsMember({"auto", "bf16", "fp32"}));
}

}  // namespace couture::app
