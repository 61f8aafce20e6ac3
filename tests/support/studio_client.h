// A client of the studio server for tests (cpp-httplib on loopback): submit a generation request, poll a job until
// it has finished. For tests linked to couture_serve, which carries cpp-httplib's flags.
#pragma once
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace couture::testing {

using json = nlohmann::json;

inline httplib::Client client_for(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  c.set_read_timeout(30);
  c.set_write_timeout(5);
  return c;
}

inline json parse(const httplib::Result& r) {
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

inline httplib::Result submit(httplib::Client& c, const json& request) {
  return c.Post("/v1/generate", request.dump(), "application/json");
}

inline const json kRequest = {
    {"prompt", "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다."}, {"n", 8}, {"top", 4}, {"seed", 42}};

inline bool finished(const json& job) {
  if (!job.is_object()) return false;
  std::string s = job.value("status", "");
  return s == "done" || s == "failed" || s == "cancelled";
}

// Polls until the job has finished (a generous cap turns a hang into a failure, not a stuck test).
inline json wait_finished(httplib::Client& c, const std::string& id) {
  json job;
  for (int i = 0; i < 6000 && !finished(job); ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    job = parse(c.Get(("/v1/jobs/" + id).c_str()));
  }
  return job;
}

}  // namespace couture::testing
