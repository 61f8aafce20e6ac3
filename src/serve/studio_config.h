// What GET /v1/config and GET /health tell clients: the request limits, the bundle's sampling defaults, the colour
// palette and the studio's attribute pickers (docs/serve.md).
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>

#include "generate/generate_params.h"

namespace couture {

nlohmann::json limits_json(size_t max_body_bytes);
nlohmann::json studio_config(const SamplingDefaults& defaults, size_t max_body_bytes);

}  // namespace couture
