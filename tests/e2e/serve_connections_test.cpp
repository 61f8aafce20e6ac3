// `couture serve` with many slow and long-lived connections (issue #22): 200 slow-loris connections, 200 open event
// streams and 200 idle keep-alive clients at once, while a fresh client's /health stays fast, a real job finishes
// and every stream gets its end; and the per-address connection cap. The attackers come from 127.0.0.2 and up, as
// a crowd of clients would (each address holds fewer than the cap), the measuring client from 127.0.0.1.
// COUTURE_LOAD_SECONDS sets the window (3 s in `make test`; `make stress` runs longer).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "support/raw_http.h"
#include "support/studio_client.h"
#include "support/studio_server.h"

namespace couture {
namespace {

using testing::body_of;
using testing::client_for;
using testing::FakeOptions;
using testing::fake_factory;
using testing::json;
using testing::kRequest;
using testing::parse;
using testing::rss_kb;
using testing::status_of;
using testing::submit;
using testing::TestServer;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A TCP connection to the server from the loopback address 127.0.0.`host` (-1 on failure), non-blocking.
int connect_from(int host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl((127u << 24) | unsigned(host));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(uint16_t(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
}

// Reads what is there without waiting; false once the server has closed the connection.
bool drain(int fd, std::string* into, size_t keep = 1 << 16) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      if (into && into->size() < keep) into->append(buffer, size_t(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[size_t(p * double(xs.size() - 1))];
}

std::chrono::seconds window() {
  return std::chrono::seconds(std::max(1, std::atoi(std::getenv("COUTURE_LOAD_SECONDS") ?: "3")));
}

TEST(ServeConnections, SlowLorisStreamsAndKeepAliveDoNotStallOthers) {
  const auto duration = window();
  FakeOptions fake;
  fake.steps = 40;
  fake.step_delay = std::chrono::duration_cast<std::chrono::milliseconds>(duration) / 40;  // the job spans the window
  TestServer server(fake_factory(fake), {});  // which raises this process's open-file limit to its hard limit
  // Both ends of every connection are in this process: 200 of each kind need about 1,300 descriptors.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  const int kEach = int(std::min<rlim_t>(200, (files.rlim_cur - 128) / 6)), kPerAddress = 10;
  if (kEach < 200)
    std::printf("only %d connections of each kind: the open-file limit is %llu\n", kEach,
                (unsigned long long)files.rlim_cur);
  ASSERT_GE(kEach, 50) << "the open-file limit (" << files.rlim_cur << ") is too low for this test";
  const int port = server.port();
  auto c = client_for(port);
  const long rss_before = rss_kb();

  // The real job, and 200 event streams on it.
  auto submitted = submit(c, kRequest);
  ASSERT_TRUE(submitted && submitted->status == 202);
  const std::string id = parse(submitted)["id"];
  const std::string host = "Host: 127.0.0.1\r\n";
  std::vector<int> streams, keep_alive, slow;
  std::vector<std::string> stream_text(kEach);
  for (int i = 0; i < kEach; ++i) {
    const int fd = connect_from(2 + i / kPerAddress, port);
    ASSERT_GE(fd, 0) << "stream " << i;
    ASSERT_TRUE(send_all(fd, "GET /v1/jobs/" + id + "/events HTTP/1.1\r\n" + host + "\r\n"));
    streams.push_back(fd);
  }
  // 200 keep-alive clients: one request each, then idle (asking again every second, within the idle timeout).
  for (int i = 0; i < kEach; ++i) {
    const int fd = connect_from(40 + i / kPerAddress, port);
    ASSERT_GE(fd, 0) << "keep-alive " << i;
    ASSERT_TRUE(send_all(fd, "GET /health HTTP/1.1\r\n" + host + "\r\n"));
    keep_alive.push_back(fd);
  }
  // 200 slow-loris connections: a header byte every 250 ms, never finishing; reconnecting when dropped.
  const std::string loris = "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "X-Padding: " + std::string(4096, 'a');
  std::vector<size_t> loris_at(kEach, 0);
  int loris_dropped = 0;
  auto open_loris = [&](int i) { return connect_from(80 + i / kPerAddress, port); };
  for (int i = 0; i < kEach; ++i) {
    slow.push_back(open_loris(i));
    ASSERT_GE(slow.back(), 0) << "slow client " << i;
  }

  std::vector<double> health_ms;
  int health_failures = 0;
  json busiest = {{"connections", 0}, {"event_streams", 0}};  // the server's own count, as /health says
  long rss_peak = rss_before;
  const auto start = Clock::now();
  auto next_attack = start;
  auto next_keep_alive = start + 1s;
  while (Clock::now() - start < duration) {
    const auto now = Clock::now();
    if (now >= next_attack) {
      next_attack = now + 250ms;
      for (int i = 0; i < kEach; ++i) {
        if (slow[size_t(i)] < 0 || !drain(slow[size_t(i)], nullptr) ||
            !send_all(slow[size_t(i)], std::string(1, loris[loris_at[size_t(i)]++ % loris.size()]))) {
          if (slow[size_t(i)] >= 0) ::close(slow[size_t(i)]), ++loris_dropped;
          slow[size_t(i)] = open_loris(i);
          loris_at[size_t(i)] = 0;
        }
        drain(streams[size_t(i)], &stream_text[size_t(i)]);
        drain(keep_alive[size_t(i)], nullptr);
      }
    }
    if (now >= next_keep_alive) {
      next_keep_alive = now + 1s;
      for (int fd : keep_alive) send_all(fd, "GET /health HTTP/1.1\r\n" + host + "\r\n");
    }
    // A fresh client: a new connection, /health, the whole answer.
    const auto t0 = Clock::now();
    const std::string answer =
        testing::raw_exchange(port, "GET /health HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n", 5);
    health_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (status_of(answer) != 200) ++health_failures;
    const json seen = json::parse(body_of(answer), nullptr, false);
    if (seen.is_object() && seen["http"]["connections"] > busiest["connections"]) busiest = seen["http"];
    rss_peak = std::max(rss_peak, rss_kb());
    std::this_thread::sleep_for(10ms);
  }
  const json job = testing::wait_finished(c, id);
  // Every stream ends with the job's final event.
  const auto stream_deadline = Clock::now() + 10s;
  int ended = 0;
  for (int i = 0; i < kEach; ++i) {
    while (stream_text[size_t(i)].find("event: done") == std::string::npos && Clock::now() < stream_deadline) {
      pollfd p{streams[size_t(i)], POLLIN, 0};
      ::poll(&p, 1, 100);
      if (!drain(streams[size_t(i)], &stream_text[size_t(i)])) break;
    }
    ended += stream_text[size_t(i)].find("event: done") != std::string::npos;
  }
  for (int fd : streams) ::close(fd);
  for (int fd : keep_alive) ::close(fd);
  for (int fd : slow)
    if (fd >= 0) ::close(fd);

  std::printf("connections: %d slow-loris (%d dropped by the server and reopened), %d event streams, %d keep-alive "
              "clients for %llds; the server at its busiest: %s; fresh /health p50 %.2f ms, p99 %.2f ms, max %.2f ms "
              "over %zu "
              "requests (%d failed); job %s, %d/%d streams got its end; RSS %ld MB before, peak %ld MB\n",
              kEach, loris_dropped, kEach, kEach, (long long)duration.count(), busiest.dump().c_str(),
              percentile(health_ms, 0.5), percentile(health_ms, 0.99), percentile(health_ms, 1.0), health_ms.size(),
              health_failures, job["status"].get<std::string>().c_str(), ended, kEach, rss_before >> 10,
              rss_peak >> 10);
  EXPECT_EQ(health_failures, 0);
  EXPECT_LT(percentile(health_ms, 0.99), 100.0);
  EXPECT_GE(busiest["connections"].get<int>(), 3 * kEach) << "the attack was not all there";
  EXPECT_GE(busiest["event_streams"].get<int>(), kEach * 9 / 10);
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(ended, kEach);
  EXPECT_LT(rss_peak - rss_before, 64L << 10) << "KB";
  if (duration >= 6s) {
    EXPECT_GT(loris_dropped, 0) << "slow-loris connections outlived the request timeout";
  }
}

// One address holds at most max_connections_per_client connections; the next gets 429 with a JSON message, while
// other addresses are served, and a freed place can be taken again.
TEST(ServeConnections, PerAddressCap) {
  ServerOptions options;
  options.max_connections_per_client = 8;
  TestServer server(fake_factory(), options);
  const int port = server.port();
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(connect_from(7, port));
    ASSERT_GE(held.back(), 0);
  }
  const int extra = connect_from(7, port);
  ASSERT_GE(extra, 0);
  pollfd p{extra, POLLIN, 0};
  ::poll(&p, 1, 2000);
  std::string answer;
  drain(extra, &answer);
  ::close(extra);
  EXPECT_EQ(status_of(answer), 429) << answer;
  const json body = json::parse(body_of(answer), nullptr, false);
  ASSERT_TRUE(body.is_object()) << answer;
  EXPECT_NE(body["error"].get<std::string>().find("127.0.0.7 has 8 connections open"), std::string::npos) << answer;

  const std::string get = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(status_of(testing::raw_exchange(port, get)), 200) << "another address is served";
  ::close(held.back());
  held.pop_back();
  std::string again;
  for (int attempt = 0; attempt < 50 && status_of(again) != 200; ++attempt) {  // the server sees the close first
    std::this_thread::sleep_for(20ms);
    const int fd = connect_from(7, port);
    ASSERT_GE(fd, 0);
    send_all(fd, get);
    pollfd q{fd, POLLIN, 0};
    ::poll(&q, 1, 2000);
    again.clear();
    drain(fd, &again);
    ::close(fd);
  }
  EXPECT_EQ(status_of(again), 200) << again;
  for (int fd : held) ::close(fd);
}

}  // namespace
}  // namespace couture
