// What GET /v1/config and GET /health tell clients: the request limits, the bundle's sampling defaults, the colour
// palette and the studio's attribute pickers (docs/serve.md).
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>

#include "generate/attribute_rerank.h"
#include "generate/generate_params.h"

namespace couture {

nlohmann::json limits_json(size_t max_body_bytes, size_t max_upload_bytes);
// `known`: the bundle's attribute values (model.json "attribute_values"); the colour, category and print pickers
// offer those when the bundle says, Couture-FMNIST's vocabulary otherwise.
nlohmann::json studio_config(const SamplingDefaults& defaults, size_t max_body_bytes, size_t max_upload_bytes,
                             const AttributeValues& known = {});

}  // namespace couture
