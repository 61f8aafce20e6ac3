#include "serve/prometheus.h"

#include <cstdio>

namespace couture {

std::string prometheus_text(const nlohmann::json& m, const http::Stats& h, double uptime) {
  std::string out;
  auto metric = [&](const std::string& name, const char* type, const char* help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto line = [&](const std::string& name, const std::string& labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number + "\n";
  };
  metric("couture_jobs", "gauge", "Jobs now, by state (finished: kept in memory).");
  line("couture_jobs", "state=\"queued\"", m["queued"].get<double>());
  line("couture_jobs", "state=\"running\"", m["running"].get<double>());
  line("couture_jobs", "state=\"finished\"", m["finished_kept"].get<double>());
  metric("couture_queue_capacity", "gauge", "Jobs that may wait; more are answered 429.");
  line("couture_queue_capacity", "", m["max_queued"].get<double>());
  metric("couture_jobs_submitted_total", "counter", "Jobs accepted (202).");
  line("couture_jobs_submitted_total", "", m["submitted_total"].get<double>());
  metric("couture_jobs_rejected_total", "counter", "Jobs refused because the queue was full (429).");
  line("couture_jobs_rejected_total", "", m["rejected_total"].get<double>());
  metric("couture_jobs_finished_total", "counter", "Jobs finished, by final status.");
  for (const char* status : {"done", "failed", "cancelled"})
    line("couture_jobs_finished_total", std::string("status=\"") + status + "\"",
         m["finished_by_status"].value(status, 0.0));
  metric("couture_job_stage_seconds", "histogram",
         "Seconds per stage of the jobs that finished done (wait: in the queue; run: the whole generation).");
  for (const auto& [stage, hist] : m["stage_seconds"].items()) {
    const std::string label = "stage=\"" + stage + "\"";
    for (const auto& bucket : hist["buckets"]) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", bucket[0].get<double>());
      line("couture_job_stage_seconds_bucket", label + ",le=\"" + le + "\"", bucket[1].get<double>());
    }
    line("couture_job_stage_seconds_bucket", label + ",le=\"+Inf\"", hist["count"].get<double>());
    line("couture_job_stage_seconds_sum", label, hist["sum"].get<double>());
    line("couture_job_stage_seconds_count", label, hist["count"].get<double>());
  }
  if (m.contains("gallery_jobs")) {
    metric("couture_gallery_jobs", "gauge", "Finished jobs kept in the gallery.");
    line("couture_gallery_jobs", "", m["gallery_jobs"].get<double>());
  }
  metric("couture_http_connections", "gauge", "Open HTTP connections.");
  line("couture_http_connections", "", double(h.connections));
  metric("couture_http_event_streams", "gauge", "Open event streams.");
  line("couture_http_event_streams", "", double(h.streams));
  metric("couture_http_requests_total", "counter",
         "Requests answered by a route (refusals before routing not counted).");
  line("couture_http_requests_total", "", double(h.requests));
  metric("couture_http_refused_connections_total", "counter",
         "Connections refused: too many from one address or in all.");
  line("couture_http_refused_connections_total", "", double(h.refused_connections));
  metric("couture_http_timed_out_total", "counter", "Requests that did not arrive whole in time, answers not read.");
  line("couture_http_timed_out_total", "", double(h.timed_out));
  metric("couture_uptime_seconds", "gauge", "Seconds since the server started.");
  line("couture_uptime_seconds", "", uptime);
  return out;
}

}  // namespace couture
