// The studio server under load, bounded and on loopback only: 50 clients submit and poll for a fixed time against
// a fake generator (the server's own cost) and against the real default bundle (models/default). Every answer must
// be 202, 200 or 429, memory stays bounded by the queue and retention limits, and the figures are printed (5 s each
// in `make test`, COUTURE_LOAD_SECONDS in `make stress`).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "nn/threads.h"
#include "generate/generator.h"
#include "support/raw_http.h"
#include "support/studio_client.h"
#include "support/studio_server.h"

namespace couture {
namespace {

using testing::FakeOptions;
using testing::TestServer;
using testing::client_for;
using testing::fake_factory;
using testing::finished;
using testing::json;
using testing::kRequest;
using testing::parse;
using testing::rss_kb;
using testing::submit;
using testing::wait_finished;
using namespace std::chrono_literals;

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0.0;
  std::sort(xs.begin(), xs.end());
  return xs[size_t(p * double(xs.size() - 1))];
}

struct LoadFigures {
  int clients = 0, accepted = 0, done = 0, refused = 0, other = 0, errors = 0;
  std::vector<double> health_ms, job_ms;  // /health answers; submit -> a poll that shows the job finished
  long rss_before_kb = 0, rss_peak_kb = 0, rss_after_kb = 0;
  double drain_s = 0;  // after the window, until the last client stopped
  std::map<std::string, int> error_kinds;
};

// How a client paces itself: the wait between polls of its job, and after a 429 (`honour_retry_after`: the
// server's Retry-After, as a well-behaved client does; else `after_429`).
struct Pacing {
  std::chrono::milliseconds poll{10}, after_429{20};
  bool honour_retry_after = false;
  // After the load window, each client still polls its accepted job until it finishes (up to this long), so that
  // every accepted job is counted: nothing the server accepted may be lost.
  std::chrono::seconds drain{0};
};

// Bounded and on loopback only: `clients` threads, each checking /health, submitting a job of `n` candidates and
// polling it until it finishes, again and again for `duration`. The server's RSS (in-process) is sampled every
// 20 ms.
LoadFigures run_load(int port, int clients, std::chrono::seconds duration, int n, Pacing pacing = {}) {
  LoadFigures f;
  f.clients = clients;
  std::atomic<int> accepted{0}, refused{0}, done{0}, other{0}, errors{0};
  std::mutex mutex;
  auto transport_error = [&](const httplib::Result& r, const char* what) {
    ++errors;
    std::lock_guard lock(mutex);
    ++f.error_kinds[std::string(what) + ": " + (r ? std::to_string(r->status) : httplib::to_string(r.error()))];
  };
  f.rss_before_kb = rss_kb();
  std::atomic<bool> running{true};
  std::atomic<long> peak{f.rss_before_kb};
  std::thread sampler([&] {
    while (running) {
      peak = std::max(peak.load(), rss_kb());
      std::this_thread::sleep_for(20ms);
    }
  });
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  const auto deadline = clock::now() + duration;
  std::vector<std::thread> threads;
  for (int k = 0; k < clients; ++k) {
    threads.emplace_back([&, k] {
      auto c = client_for(port);
      json request = kRequest;
      request["n"] = n;
      request["top"] = std::min(n, 4);
      request["seed"] = k;
      std::vector<double> health, jobs;
      while (clock::now() < deadline) {
        auto t0 = clock::now();
        auto h = c.Get("/health");
        health.push_back(ms_since(t0));
        if (!h || h->status != 200) transport_error(h, "health");
        const auto submitted = clock::now();
        auto r = submit(c, request);
        if (!r) {
          transport_error(r, "submit");
          continue;
        }
        if (r->status == 429) {
          ++refused;
          auto wait = pacing.after_429;
          if (pacing.honour_retry_after && r->has_header("Retry-After"))
            wait = std::chrono::seconds(std::atoi(r->get_header_value("Retry-After").c_str()));
          std::this_thread::sleep_until(std::min(deadline, clock::now() + wait));
          continue;
        }
        if (r->status != 202) {
          ++other;
          continue;
        }
        ++accepted;
        std::string url = parse(r)["url"];
        while (clock::now() < deadline + pacing.drain) {
          auto p = c.Get(url.c_str());
          if (!p || (p->status != 200 && p->status != 404)) {
            transport_error(p, "poll");
            break;
          }
          if (p->status == 404 || finished(parse(p))) {
            if (p->status == 200) ++done, jobs.push_back(ms_since(submitted));
            break;
          }
          std::this_thread::sleep_for(pacing.poll);
        }
      }
      std::lock_guard lock(mutex);
      f.health_ms.insert(f.health_ms.end(), health.begin(), health.end());
      f.job_ms.insert(f.job_ms.end(), jobs.begin(), jobs.end());
    });
  }
  for (auto& t : threads) t.join();
  f.drain_s = std::max(0.0, ms_since(deadline) / 1000.0);
  running = false;
  sampler.join();
  f.accepted = accepted, f.refused = refused, f.done = done, f.other = other, f.errors = errors;
  f.rss_peak_kb = peak;
  f.rss_after_kb = rss_kb();
  return f;
}

// What a user of the studio would notice: it kept answering, every answer was 202, 200 or 429, jobs finished, and
// the queue and retention limits held memory. Prints the figures.
void expect_held_under_load(TestServer& server, const ServerOptions& options, const LoadFigures& f,
                            const char* what, std::chrono::seconds duration) {
  json stats = server.server().jobs().stats();
  std::printf("load (%s): %d clients for %llds: %d accepted (202), %d finished while polled (%.1f s to drain), "
              "%d refused (429), %d other, %d transport errors; /health p50 %.2f ms, p99 %.2f ms over %zu requests; "
              "job completion p50 %.0f ms, p99 %.0f ms; RSS %ld MB before, peak %ld MB, %+ld KB after; kept %d "
              "finished jobs\n",
              what, f.clients, static_cast<long long>(duration.count()), f.accepted, f.done, f.drain_s, f.refused,
              f.other, f.errors, percentile(f.health_ms, 0.5), percentile(f.health_ms, 0.99), f.health_ms.size(),
              percentile(f.job_ms, 0.5), percentile(f.job_ms, 0.99), f.rss_before_kb / 1024, f.rss_peak_kb / 1024,
              f.rss_after_kb - f.rss_before_kb, stats["finished_kept"].get<int>());
  EXPECT_GT(f.accepted, 0);
  EXPECT_GT(f.done, 0);
  EXPECT_EQ(f.other, 0);
  EXPECT_EQ(f.errors, 0);
  for (const auto& [kind, count] : f.error_kinds) ADD_FAILURE() << count << " x " << kind;
  EXPECT_LE(stats["finished_kept"].get<size_t>(), options.queue.keep_results);
  EXPECT_LE(stats["queued"].get<size_t>(), options.queue.max_queued);
  auto c = client_for(server.port());
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

std::chrono::seconds load_duration() {
  return std::chrono::seconds(std::max(1, std::atoi(std::getenv("COUTURE_LOAD_SECONDS") ?: "5")));
}

TEST(PipelineServer, LoadOf50ClientsStaysUpAndBounded) {
  ServerOptions options;
  options.queue.max_queued = 16;
  options.queue.keep_results = 32;
  FakeOptions fake;
  fake.image_size = 64;
  fake.steps = 4;
  fake.step_delay = 1ms;
  TestServer server(fake_factory(fake), options);
  const auto duration = load_duration();
  auto figures = run_load(server.port(), 50, duration, 4);
  expect_held_under_load(server, options, figures, "fake generator", duration);
}

// The same load against the real default bundle (models/default, as `couture serve` runs it): each job samples,
// decodes and reranks 4 candidates on this machine's cores while 50 clients poll. The clients and the server share
// this process and its cores, so they pace themselves as a polling client should (a poll every 100 ms; after a 429,
// the server's Retry-After): clients retrying every 20 ms would take the cores the generation needs.
TEST(PipelineServer, LoadOf50ClientsAgainstTheDefaultBundle) {
  const std::filesystem::path bundle = std::filesystem::path(COUTURE_SOURCE_DIR) / "models/default";
  if (!std::filesystem::exists(bundle / "model.json")) GTEST_SKIP() << "models/default is not in this checkout";
  init_torch_threads();  // one per core, as `couture serve` runs
  ServerOptions options;
  options.queue.max_queued = 16;
  options.queue.keep_results = 32;
  TestServer server([&] { return load_generator({.model_dir = bundle}); }, options);
  const auto duration = load_duration();
  {  // a running studio is warm: the first job pays LibTorch's one-time start-up (oneDNN kernels, allocations)
    auto c = client_for(server.port());
    auto r = submit(c, kRequest);
    ASSERT_TRUE(r && r->status == 202);
    ASSERT_EQ(wait_finished(c, parse(r)["id"])["status"], "done");
  }
  const int clients = std::atoi(std::getenv("COUTURE_LOAD_CLIENTS") ?: "50");
  auto figures = run_load(server.port(), clients, duration, 4,
                          {.poll = 100ms, .honour_retry_after = true, .drain = std::chrono::seconds(300)});
  expect_held_under_load(server, options, figures, "default bundle", duration);
  EXPECT_EQ(figures.done, figures.accepted) << "every accepted job finishes (the clients poll them to the end)";
}

}  // namespace
}  // namespace couture

