// `couture serve` against hostile and careless clients: every abusive request a 4xx with a JSON message and the
// server still up, chunked bodies refused unread, only loopback and allowed Host names answered (DNS rebinding),
// slow clients holding one connection, not the server. In-process on 127.0.0.1 with a fake generator.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/raw_http.h"
#include "support/studio_client.h"
#include "support/studio_server.h"

namespace couture {
namespace {

using json = nlohmann::json;
using testing::body_of;
using testing::client_for;
using testing::connect_loopback;
using testing::fake_factory;
using testing::kRequest;
using testing::parse;
using testing::raw_exchange;
using testing::status_of;
using testing::submit;
using testing::wait_finished;
using testing::TestServer;
using namespace std::chrono_literals;

// Every abusive request gets a 4xx with a JSON message (never a 5xx, a crash or a hang), and the server stays up.
TEST(ServeAbuse, AbuseGets4xxWithAClearMessage) {
  ServerOptions options;
  options.io_timeout = 2s;  // a body announced but never sent is answered after this
  TestServer server(fake_factory(), options);
  int port = server.port();
  auto c = client_for(port);

  auto post_raw = [&](const std::string& body, const std::string& type = "application/json") {
    return raw_exchange(port, "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type +
                                  "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                                  "\r\n\r\n" + body);
  };
  auto get_raw = [&](const std::string& target) {
    return raw_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  };
  auto get_with_host = [&](const std::string& host) {
    return raw_exchange(port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  };
  std::string nested = std::string(20000, '[') + std::string(20000, ']');
  std::string hangul;
  for (int i = 0; i < 10000; ++i) hangul += "옷";
  struct Case {
    std::string name, answer;
  };
  std::vector<Case> cases = {
      {"empty body", post_raw("")},
      {"malformed JSON", post_raw("{\"prompt\": ")},
      {"not JSON", post_raw("prompt=hello")},
      {"trailing garbage", post_raw("{\"prompt\": \"a\"} x")},
      {"JSON array", post_raw("[1, 2, 3]")},
      {"JSON string", post_raw("\"상의\"")},
      {"deep nesting", post_raw(nested)},
      {"huge number", post_raw(R"({"prompt": "a", "n": 1e400})")},
      {"huge integer", post_raw(R"({"prompt": "a", "n": 99999999999999999999999999})")},
      {"huge seed", post_raw(R"({"prompt": "a", "seed": 18446744073709551616})")},
      {"negative n", post_raw(R"({"prompt": "a", "n": -4})")},
      {"n as string", post_raw(R"({"prompt": "a", "n": "4"})")},
      {"prompt as object", post_raw(R"({"prompt": {"text": "a"}})")},
      {"null prompt", post_raw(R"({"prompt": null})")},
      {"10000-character prompt", post_raw(json({{"prompt", std::string(10000, 'x')}}).dump())},
      {"10000 Hangul characters", post_raw(json({{"prompt", hangul}}).dump())},
      {"invalid UTF-8", post_raw("{\"prompt\": \"\xff\xfe\xfd\"}")},
      {"overlong UTF-8", post_raw("{\"prompt\": \"\xc0\xaf\"}")},
      {"escaped lone surrogate", post_raw(R"({"prompt": "\ud800"})")},
      {"NUL in prompt", post_raw(R"({"prompt": "a\u0000b"})")},
      {"unknown field", post_raw(R"({"prompt": "a", "model_dir": "/etc"})")},
      {"output path", post_raw(R"({"prompt": "a", "output": "../../tmp/x.png"})")},
      {"absolute path as codes", post_raw(R"({"prompt": "a", "init_codes": "/etc/passwd"})")},
      {"path as variation", post_raw(R"({"prompt": "a", "variation_of": "../jobs/x"})")},
      {"text/plain body", post_raw(kRequest.dump(), "text/plain")},
      {"form body", post_raw("prompt=a", "application/x-www-form-urlencoded")},
      {"oversize body", post_raw(std::string(100 * 1024, ' '))},
      {"lying Content-Length", raw_exchange(port, "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                                  "application/json\r\nContent-Length: 999999999\r\n\r\n{}")},
      {"parent directories", get_raw("/../../../../etc/passwd")},
      {"encoded parent directories", get_raw("/%2e%2e/%2e%2e/etc/passwd")},
      {"absolute path", get_raw("/etc/passwd")},
      {"job path traversal", get_raw("/v1/jobs/../../etc/passwd")},
      {"image path traversal", get_raw("/v1/jobs/0123456789abcdef/images/../../../etc/passwd")},
      {"image by file name", get_raw("/v1/jobs/0123456789abcdef/images/%2Fetc%2Fpasswd")},
      {"query with a path", get_raw("/health/../v1/jobs?file=/etc/passwd")},
      {"long URI", get_raw("/" + std::string(20000, 'a'))},
      {"bad request line", raw_exchange(port, "HELLO\r\n\r\n")},
      {"unknown method", raw_exchange(port, "BREW /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")},
      {"foreign Host", raw_exchange(port, "GET /health HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n")},
      {"rebinding 127.evil", get_with_host("127.evil.example.com")},
      {"rebinding nip.io", get_with_host("127.0.0.1.nip.io")},
      {"rebinding localhost.", get_with_host("localhost.evil.example")},
      {"Host with a bad port", get_with_host("127.0.0.1:80x")},
      {"Host after ]", get_with_host("[::1]evil")},
      {"POST via rebinding", raw_exchange(port, "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1.nip.io\r\n"
                                                "Content-Type: application/json\r\nContent-Length: 13\r\n"
                                                "Connection: close\r\n\r\n{\"prompt\":\"a\"}")},
  };
  for (const auto& [name, answer] : cases) {
    int status = status_of(answer);
    std::printf("%-28s -> %s\n", name.c_str(), answer.substr(0, answer.find('\r')).c_str());
    EXPECT_TRUE(status >= 400 && status < 500) << name << ": " << answer.substr(0, 300);
    json body = json::parse(body_of(answer), nullptr, false);
    EXPECT_TRUE(body.is_object() && body["error"].is_string() && !body["error"].get<std::string>().empty())
        << name << ": " << answer.substr(0, 300);
  }
  // Still answering, and nothing was queued by any of it.
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(parse(health)["queue"]["submitted_total"], 0);
}

// cpp-httplib reads a chunked body whole, whatever its size: such bodies are refused (411) from the headers, and
// sending 256 MB of chunks leaves the server's memory where it was.
TEST(ServeAbuse, ChunkedBodiesAreRefusedUnread) {
  TestServer server(fake_factory(), {});
  const int port = server.port();
  const std::string head = "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
  const auto answer = raw_exchange(port, head + "d\r\n{\"prompt\":\"a\"}\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(answer), 411) << answer.substr(0, 300);
  EXPECT_NE(body_of(answer).find("Content-Length"), std::string::npos) << answer;

  const long before = testing::rss_kb();
  const int fd = connect_loopback(port);
  ASSERT_GE(fd, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'x') + "\r\n";  // 1 MB chunks
  int64_t sent = 0;
  for (int i = 0; i < 256; ++i) {
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;  // the server has closed the connection: the rest is never read
    sent += n;
  }
  ::close(fd);
  const long after = testing::rss_kb();
  std::printf("sent %lld bytes of chunks; resident %lld -> %lld MB\n", (long long)sent, (long long)(before >> 10),
              (long long)(after >> 10));
  EXPECT_LT(after - before, 32L << 10);  // KB
  auto health = client_for(port).Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A loopback server answers to loopback names and addresses in every form, and to names given with --allow-host;
// the rebinding forms are refused in AbuseGets4xxWithAClearMessage.
TEST(ServeAbuse, LoopbackHostsAndAllowedNamesAreAnswered) {
  ServerOptions options;
  options.allowed_hosts = {"Studio.LAN"};
  TestServer server(fake_factory(), options);
  const int port = server.port();
  for (const std::string& host : std::vector<std::string>{"127.0.0.1", "127.0.0.1:" + std::to_string(port),
                                                         "127.8.9.10", "localhost", "LOCALHOST:80", "[::1]",
                                                         "[::1]:8080", "studio.lan", "studio.lan:8080"}) {
    const auto answer =
        raw_exchange(port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(answer), 200) << host << ": " << answer.substr(0, 200);
  }
  for (const std::string host : {"studio.lan.evil.example", "evil.studio.lan", "128.0.0.1", "0x7f.0.0.1"}) {
    const auto answer =
        raw_exchange(port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(answer), 403) << host << ": " << answer.substr(0, 200);
  }
}

// A client that sends its headers a byte at a time holds one connection, not the server.
TEST(ServeAbuse, SlowClientsDoNotBlockOthers) {
  ServerOptions options;
  options.io_timeout = 2s;
  TestServer server(fake_factory(), options);
  int port = server.port();
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  std::vector<std::string> answers(4);
  for (int k = 0; k < 4; ++k) {
    slow.emplace_back([&, k] {
      int fd = connect_loopback(port);
      if (fd < 0) return;
      // Byte after byte, then silence: the server must drop it after io_timeout.
      std::string head = "POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n";
      for (size_t i = 0; i < head.size() && !stop; ++i) {
        if (::send(fd, &head[i], 1, MSG_NOSIGNAL) != 1) break;
        std::this_thread::sleep_for(20ms);
      }
      timeval tv{20, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buffer[1024];
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answers[size_t(k)].append(buffer, size_t(n));
      answers[size_t(k)] += n == 0 ? "<closed>" : "<timed out>";
      ::close(fd);
    });
  }
  auto c = client_for(port);
  for (int i = 0; i < 20; ++i) {
    auto r = c.Get("/health");
    ASSERT_TRUE(r) << "request " << i << " failed while slow clients were connected";
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(wait_finished(c, parse(submit(c, kRequest))["id"])["status"], "done");
  stop = true;
  for (auto& t : slow) t.join();
  for (const auto& answer : answers) EXPECT_NE(answer.find("<closed>"), std::string::npos) << answer;
}

}  // namespace
}  // namespace couture
