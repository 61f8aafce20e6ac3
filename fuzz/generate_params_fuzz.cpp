// libFuzzer target: the server's request parsing, as StudioServer does it: the body through nlohmann's parser
// (a parse error is a 400), a seed added when absent, then GenerateParams::from_json. Anything refused must be a
// FieldError (a 400 naming the field), never another exception (a 500); anything accepted must be valid and
// survive to_json -> from_json unchanged.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "generate/generate_params.h"

using couture::fuzz::require;
using json = nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json body;
  try {
    body = json::parse(data, data + size);
  } catch (const json::exception&) {
    return 0;
  }
  try {
    if (body.is_object() && !body.contains("seed")) body["seed"] = 42;
    const auto params = couture::GenerateParams::from_json(body);
    params.validate();
    const auto again = couture::GenerateParams::from_json(params.to_json());
    require(again.prompt == params.prompt && again.n == params.n && again.top == params.top &&
            again.seed == params.seed && again.temperature == params.temperature && again.top_k == params.top_k &&
            again.top_p == params.top_p && again.cond_scale == params.cond_scale &&
            again.init_codes == params.init_codes && again.num_init_codes == params.num_init_codes);
    params.settings_json().dump();
  } catch (const couture::FieldError& e) {
    require(e.what()[0] != '\0');
  }
  return 0;
}
