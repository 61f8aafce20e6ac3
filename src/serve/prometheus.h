// /metrics: the job queue's and the HTTP layer's figures in Prometheus' text format (version 0.0.4).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "serve/http_server.h"

namespace couture {

// `queue_metrics` is JobQueue::metrics(); `uptime` the server's seconds.
std::string prometheus_text(const nlohmann::json& queue_metrics, const http::Stats& http, double uptime);

}  // namespace couture
