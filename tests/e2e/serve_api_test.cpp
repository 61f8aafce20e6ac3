// The studio API's conventions for operators: Prometheus /metrics, and the API key (Bearer for API clients, a
// cookie for the browser, /health open). In-process on 127.0.0.1 with a fake generator; the CLI's refusal to serve
// the network without a key is checked on the binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "support/run_command.h"
#include "support/studio_client.h"
#include "support/studio_server.h"

namespace couture {
namespace {

using testing::client_for;
using testing::fake_factory;
using testing::json;
using testing::kRequest;
using testing::parse;
using testing::submit;
using testing::TestServer;
using testing::wait_finished;

// The samples of a Prometheus text page: "name{labels}" -> value. Fails the test on a line that is neither a
// comment nor a sample.
std::map<std::string, double> samples(const std::string& text) {
  static const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (-?[0-9.eE+-]+|\+Inf|NaN))");
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    std::smatch m;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not Prometheus text: " << line;
      continue;
    }
    out[m[1]] = std::stod(m[3]);
  }
  return out;
}

TEST(ServeApi, MetricsInPrometheusTextFormat) {
  testing::FakeOptions fake;
  fake.steps = 4;
  TestServer server(fake_factory(fake));
  auto c = client_for(server.port());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(wait_finished(c, parse(submit(c, kRequest))["id"])["status"], "done");

  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const auto m = samples(r->body);
  EXPECT_EQ(m.at("couture_jobs_submitted_total"), 3);
  EXPECT_EQ(m.at("couture_jobs_finished_total{status=\"done\"}"), 3);
  EXPECT_EQ(m.at("couture_jobs_finished_total{status=\"failed\"}"), 0);
  EXPECT_EQ(m.at("couture_jobs{state=\"queued\"}"), 0);
  EXPECT_EQ(m.at("couture_queue_capacity"), 16);
  EXPECT_GE(m.at("couture_http_connections"), 1);
  EXPECT_GE(m.at("couture_http_requests_total"), 6);
  // Every stage's histogram: cumulative buckets, +Inf equal to the count, the count the finished jobs.
  for (const char* stage : {"wait", "run", "sample", "decode", "rerank"}) {
    const std::string label = std::string("stage=\"") + stage + "\"";
    ASSERT_TRUE(m.count("couture_job_stage_seconds_count{" + label + "}")) << stage << "\n" << r->body;
    EXPECT_EQ(m.at("couture_job_stage_seconds_count{" + label + "}"), 3) << stage;
    EXPECT_EQ(m.at("couture_job_stage_seconds_bucket{" + label + ",le=\"+Inf\"}"), 3) << stage;
    std::vector<std::pair<double, double>> buckets;  // (le, count)
    const std::string prefix = "couture_job_stage_seconds_bucket{" + label + ",le=\"";
    for (const auto& [name, value] : m)
      if (name.rfind(prefix, 0) == 0 && name.find("+Inf") == std::string::npos)
        buckets.push_back({std::stod(name.substr(prefix.size())), value});
    std::sort(buckets.begin(), buckets.end());
    ASSERT_GE(buckets.size(), 5u) << stage;
    for (size_t i = 1; i < buckets.size(); ++i) EXPECT_GE(buckets[i].second, buckets[i - 1].second) << stage;
    EXPECT_LE(buckets.back().second, 3) << stage;
    EXPECT_GE(m.at("couture_job_stage_seconds_sum{" + label + "}"), 0) << stage;
  }
}

TEST(ServeApi, AnApiKeyGuardsAllButHealth) {
  ServerOptions options;
  options.api_key = "k3y-for-the-test.0123";
  TestServer server(fake_factory(), options);
  auto c = client_for(server.port());
  EXPECT_EQ(c.Get("/health")->status, 200);
  for (const char* path : {"/", "/studio.js", "/v1/config", "/metrics", "/v1/jobs/0123456789abcdef"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"couture\"") << path;
    EXPECT_NE(parse(r)["error"].get<std::string>().find("Authorization: Bearer"), std::string::npos) << r->body;
  }
  EXPECT_EQ(submit(c, kRequest)->status, 401);
  EXPECT_EQ(c.Get("/v1/config", {{"Authorization", "Bearer wrong-key-0123456789"}})->status, 401);
  EXPECT_EQ(c.Get("/v1/config", {{"Authorization", "Bearer k3y-for-the-test.0123"}})->status, 200);
  EXPECT_EQ(c.Get("/?key=wrong-key-0123456789")->status, 401);

  // A browser opens /?key=KEY once: sent to / with the key in a cookie, which then opens everything.
  auto opened = c.Get("/?key=k3y-for-the-test.0123");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->status, 303);
  EXPECT_EQ(opened->get_header_value("Location"), "/");
  const std::string cookie = opened->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const httplib::Headers with_cookie = {{"Cookie", "other=1; " + cookie.substr(0, cookie.find(';'))}};
  EXPECT_EQ(c.Get("/", with_cookie)->status, 200);
  auto posted = c.Post("/v1/generate", with_cookie, kRequest.dump(), "application/json");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 202);
}

TEST(ServeApi, TheNetworkNeedsAKeyOrInsecure) {
  const std::string serve = std::string(COUTURE_BINARY) + " serve --port 0 --model /nonexistent ";
  auto r = testing::run_command(serve + "--host 0.0.0.0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--host 0.0.0.0 lets other machines use the studio: give it an --api-key"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("/nonexistent"), std::string::npos) << "refused before the model loads: " << r.output;
  r = testing::run_command(serve + "--host 0.0.0.0 --api-key short");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--api-key must be at least 16 characters"), std::string::npos) << r.output;
  // With --insecure (or a key) it goes on, here to the missing model.
  r = testing::run_command(serve + "--host 0.0.0.0 --insecure");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace couture
