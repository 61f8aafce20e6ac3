// The HTTP layer alone (serve/http_server), on loopback with raw bytes: what a client relies on that the studio's
// tests do not exercise — pipelined requests answered in order, HEAD, HTTP/1.0, Expect: 100-continue, bodies that
// arrive in pieces, malformed heads, the request deadline, a handler that throws, and stop() with a stream open.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "serve/http_server.h"
#include "support/raw_http.h"

namespace couture {
namespace {

using testing::body_of;
using testing::connect_loopback;
using testing::raw_exchange;
using testing::status_of;
using namespace std::chrono_literals;

class HttpServerTest : public ::testing::Test {
 protected:
  void start(http::Options options = {}) {
    options.error_body = [](const http::Request&, http::Response& res, const std::string& message) {
      res.set_content("{\"error\":\"" + message + "\"}", "application/json");
    };
    server_ = std::make_unique<http::Server>(std::move(options));
    server_->route("GET", "/echo/([a-z ]+)", [](const http::Request& req, http::Response& res) {
      res.set_content("path=" + req.matches[1] + " query=" + req.query, "text/plain");
    });
    server_->route("POST", "/echo", [](const http::Request& req, http::Response& res) {
      res.set_content(req.body, "text/plain");
    });
    server_->route("GET", "/throw", [](const http::Request&, http::Response&) -> void {
      throw std::runtime_error("boom");
    });
    server_->route("GET", "/stream", [this](const http::Request&, http::Response& res) {
      res.content_type = "text/event-stream";
      res.stream = [this, n = 0](std::string& out) mutable {
        if (n < 3) out = "data: " + std::to_string(n++) + "\n\n";
        return !stream_over_;
      };
    });
    std::string error;
    port_ = server_->bind("127.0.0.1", 0, error);
    ASSERT_GT(port_, 0) << error;
    thread_ = std::thread([this] { server_->run(); });
    while (!server_->running()) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  // Everything the server sends until it closes the connection (or 5 s pass).
  std::string exchange_until_close(const std::string& bytes, std::chrono::milliseconds pause_after = 0ms,
                                   const std::string& more = "") {
    const int fd = connect_loopback(port_);
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string answer;
    if (pause_after > 0ms) {
      std::this_thread::sleep_for(pause_after);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) answer += read_some(fd);
      ::send(fd, more.data(), more.size(), MSG_NOSIGNAL);
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, size_t(n));
    ::close(fd);
    return answer;
  }
  static std::string read_some(int fd) {
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, size_t(n)) : "";
  }
  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<bool> stream_over_{false};
};

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  const std::string answer = exchange_until_close(
      "GET /echo/first HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /echo/third?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t first = answer.find("path=first"), second = answer.find("hello");
  const size_t third = answer.find("path=third query=x=1");
  ASSERT_NE(first, std::string::npos) << answer;
  ASSERT_NE(second, std::string::npos) << answer;
  ASSERT_NE(third, std::string::npos) << answer;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(count(answer, "HTTP/1.1 200 OK"), 3u);
  EXPECT_EQ(count(answer, "Connection: keep-alive"), 2u);
  EXPECT_EQ(count(answer, "Connection: close"), 1u);
}

TEST_F(HttpServerTest, HeadHttp10AndPercentEscapes) {
  start();
  const std::string head = exchange_until_close("HEAD /echo/a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(head), 200) << head;
  EXPECT_NE(head.find("Content-Length: 15\r\n"), std::string::npos) << head;  // "path=a b query="
  EXPECT_EQ(body_of(head), "") << "HEAD has no body";
  const std::string old = exchange_until_close("GET /echo/a HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_of(old), 200) << old;
  EXPECT_NE(old.find("Connection: close"), std::string::npos) << old;
  const std::string kept = raw_exchange(port_, "GET /echo/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_NE(kept.find("Connection: keep-alive"), std::string::npos) << kept;
  for (const char* bad : {"/echo/a%00b", "/echo/a%zz", "/echo/a%2"}) {
    const std::string answer = exchange_until_close(std::string("GET ") + bad + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_of(answer), 400) << bad << ": " << answer;
    EXPECT_NE(body_of(answer).find("%-escape"), std::string::npos) << answer;
  }
}

TEST_F(HttpServerTest, MalformedHeadsAreRefusedWithTheirReason) {
  start();
  struct Case {
    std::string head;
    int status;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
       "two different Content-Length"},
      {"POST /echo HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 400, "malformed Content-Length"},
      {"GET /echo/a HTTP/1.1\r\nno colon here\r\n\r\n", 400, "malformed header line 1"},
      {"GET /echo/a HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400, "malformed header line 2"},
      {"GET /echo/a HTTP/2.0\r\n\r\n", 505, "only HTTP/1.0 and 1.1"},
      {"GET http://evil/ HTTP/1.1\r\n\r\n", 400, "starting with /"},
      {"GET /echo/a HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431, "headers are larger"},
      {"GET /echo/a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 411, "Content-Length"},
      {"DELETE /echo HTTP/1.1\r\nConnection: close\r\n\r\n", 405, "allowed: POST"},
  };
  for (const auto& c : cases) {
    const std::string answer = exchange_until_close(c.head);
    EXPECT_EQ(status_of(answer), c.status) << c.head.substr(0, 60) << " -> " << answer.substr(0, 200);
    EXPECT_NE(body_of(answer).find(c.says), std::string::npos) << answer.substr(0, 300);
  }
}

TEST_F(HttpServerTest, BodiesInPiecesExpectContinueAndTheDeadline) {
  http::Options options;
  options.request_timeout = 400ms;
  start(options);
  // A body in two pieces, well within the deadline, arrives whole.
  const std::string pieces = exchange_until_close(
      "POST /echo HTTP/1.1\r\nConnection: close\r\nContent-Length: 10\r\n\r\nhello", 100ms, "world");
  EXPECT_EQ(status_of(pieces), 200) << pieces;
  EXPECT_EQ(body_of(pieces), "helloworld");
  // Expect: 100-continue gets its interim answer before the body is sent.
  const std::string expect = exchange_until_close(
      "POST /echo HTTP/1.1\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 100ms, "ok");
  EXPECT_EQ(expect.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0), 0u) << expect;
  EXPECT_EQ(body_of(expect.substr(expect.find("HTTP/1.1 200"))), "ok");
  // A body that never comes whole: 408 after the deadline, whatever pace the bytes come at.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string late = exchange_until_close("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nhel");
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(status_of(late), 408) << late;
  EXPECT_GT(waited, 0.3);
  EXPECT_LT(waited, 2.0);
  // A connection that never asks anything is closed without a word.
  EXPECT_EQ(exchange_until_close(""), "");
}

TEST_F(HttpServerTest, AThrowingHandlerIs500AndTheServerGoesOn) {
  start();
  const std::string answer = exchange_until_close("GET /throw HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(answer), 500) << answer;
  EXPECT_NE(body_of(answer).find("internal error: boom"), std::string::npos) << answer;
  EXPECT_EQ(status_of(raw_exchange(port_, "GET /echo/a HTTP/1.1\r\nConnection: close\r\n\r\n")), 200);
  EXPECT_EQ(server_->stats().requests, 2u);
}

TEST_F(HttpServerTest, StreamsAreChunkedAndStopEndsThem) {
  start();
  const int fd = connect_loopback(port_);
  const std::string ask = "GET /stream HTTP/1.1\r\n\r\n";
  ::send(fd, ask.data(), ask.size(), MSG_NOSIGNAL);
  std::string got;
  for (int i = 0; i < 50 && got.find("data: 2") == std::string::npos; ++i) {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 100);
    got += read_some(fd);
  }
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("9\r\ndata: 0\n\n\r\n"), std::string::npos) << got;
  EXPECT_EQ(server_->stats().streams, 1u);
  stream_over_ = true;  // the source says it is over; stop() waits for it
  server_->stop();
  thread_.join();
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buffer[256];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) got.append(buffer, size_t(n));
  ::close(fd);
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos) << "the stream's last chunk: " << got;
  EXPECT_FALSE(server_->running());
}

}  // namespace
}  // namespace couture
