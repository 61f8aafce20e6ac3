// The studio's HTTP/1.1 server: one event loop (epoll) holds every connection, so a connection costs a socket and
// its buffers, never a thread. Slow clients cannot starve the others (docs/serve.md, "Limits"):
// - a request (headers and body) must arrive whole within `request_timeout` of the connection being ready for it
//   (accepted, or its previous answer sent); a keep-alive connection that stays silent that long is closed;
// - an answer the client does not read within `request_timeout` ends the connection;
// - each client address holds at most `max_per_client` connections, the server `max_connections`;
// - every body is bounded by `max_body_bytes` (`max_upload_bytes` for uploads) before it is read (a chunked body is
//   refused from its headers);
// - event streams are polled by the loop (`Response::stream`), never waiting on a thread of their own.
// Handlers run on the loop's thread: they must answer at once (the job queue does the slow work elsewhere).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace couture::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method, target, path, query;  // path: percent-decoded, without the query
  Headers headers;
  std::string body;
  std::string remote;                 // the client's address, e.g. "127.0.0.1"
  std::vector<std::string> matches;  // the route pattern's groups ([0]: the whole path)

  bool has_header(std::string_view name) const;  // names compare case-insensitively
  std::string header(std::string_view name) const;  // "" when absent
};

// An event stream's source, called by the loop whenever everything sent before has been written (and at least
// every `stream_poll`): appends what to send next to `out` (possibly nothing) and returns false once the stream is
// over (what it appended last is still sent). It must not block.
using StreamSource = std::function<bool(std::string& out)>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body, content_type;
  StreamSource stream;  // set: the body is streamed (chunked), and the connection ends with it

  void set_header(std::string name, std::string value);
  bool has_header(std::string_view name) const;
  void set_content(std::string content, std::string type) { body = std::move(content), content_type = std::move(type); }
};

using Handler = std::function<void(const Request&, Response&)>;

struct Options {
  size_t max_body_bytes = 64 * 1024;  // larger bodies: 413, unread
  // Requests `is_upload` says carry a file (judged from the head) may have bodies up to this size instead.
  size_t max_upload_bytes = 0;
  std::function<bool(const Request&)> is_upload;
  size_t max_head_bytes = 16 * 1024;  // request line and headers; more: 431 (a request line alone: 414)
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds stream_poll{100};
  int max_connections = 0;        // 0: what the process's file limit allows, less a margin
  int max_per_client = 64;        // open connections from one address
  int max_requests_per_connection = 100;
  Headers default_headers;        // on every answer
  // Runs after the head is read, before the body is: returns true when it has answered (the body is not read).
  std::function<bool(const Request&, Response&)> pre_routing;
  // Fills the body of an error answer the server made itself (status set, body empty): 400, 404, 405, 408, 411,
  // 413, 414, 431, 429 (too many connections), 500 (a handler threw; `error` says what).
  std::function<void(const Request&, Response&, const std::string& error)> error_body;
};

struct Stats {
  size_t connections = 0, streams = 0, refused_connections = 0, timed_out = 0, requests = 0;
};

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes: `pattern` is a regular expression matched against the whole decoded path; GET routes answer HEAD.
  // A path that some route matches with another method gets 405 with Allow.
  void route(const std::string& method, const std::string& pattern, Handler handler);

  // Listens on host:port (port 0: any free one); returns the port, or -1 with `error` saying why.
  int bind(const std::string& host, int port, std::string& error);
  // Serves until stop(): then stops accepting, lets open answers and streams finish (up to request_timeout), and
  // returns. Call once, after bind().
  void run();
  void stop();  // any thread
  // Polls every event stream now (any thread, cheap): call it when what they report has changed.
  void wake();
  bool running() const;
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

const char* reason_phrase(int status);

}  // namespace couture::http
