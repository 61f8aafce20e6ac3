// `couture serve`: the web studio (GET /) and the JSON API (POST /v1/generate, GET/DELETE/PATCH /v1/jobs/{id}, the
// gallery's GET /v1/jobs, server-sent events, result PNGs, GET /v1/config, GET /health, /metrics) in front of one
// JobQueue and one Gallery. docs/serve.md is the reference.
// Requests never name files: results are addressed by job id and rank only. HTTP is serve/http_server.h's.
#pragma once
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "serve/job_queue.h"

namespace couture {

class Gallery;

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback by default; another address exposes the studio to the network
  // Host header names a loopback server also answers (besides localhost, 127.0.0.0/8 and ::1), e.g. a name this
  // machine has in /etc/hosts; every other Host gets 403 (DNS rebinding).
  std::vector<std::string> allowed_hosts;
  int port = 8080;                 // 0: any free port (see StudioServer::port())
  JobQueueOptions queue;
  // The gallery's folder (serve/gallery.h): every finished job is kept there across restarts, listed by GET
  // /v1/jobs. Empty: no gallery (finished jobs last as long as the queue keeps them).
  std::filesystem::path data_dir;
  size_t max_body_bytes = 64 * 1024;  // larger requests get 413
  size_t max_upload_bytes = 4 << 20;  // the same for POST /v1/generate, which may carry a picture (init_image)
  // When set, every route but /health needs it: `Authorization: Bearer KEY`, or (a browser) the cookie set by
  // opening /?key=KEY once. At least 16 characters of letters, digits and . _ ~ - (check_api_key).
  std::string api_key;
  int max_connections_per_client = 64;  // open connections from one address; more get 429 and are closed
  // A request (headers and body) must arrive whole within this of its connection being ready for it, and an
  // answer must be read at least this often; a keep-alive connection silent for this long is closed.
  std::chrono::seconds io_timeout{5};
  std::chrono::seconds event_keepalive{10};  // a comment line on idle event streams, so proxies keep them open
};

// Whether `host` (a --host value or a Host header's name) is this machine only: localhost, 127.0.0.0/8 written as
// an address, ::1.
bool is_loopback_host(const std::string& host);
// Throws InputError naming --api-key unless `key` is empty or a usable key.
void check_api_key(const std::string& key);

class StudioServer {
 public:
  StudioServer(std::unique_ptr<Generator> generator, ServerOptions options);
  ~StudioServer();  // stop()s
  StudioServer(const StudioServer&) = delete;
  StudioServer& operator=(const StudioServer&) = delete;

  // Binds host:port (throws Error naming them when it cannot) and returns the port.
  int bind();
  // Serves until stop() (binding first if needed).
  void serve();
  // bind(), then serve() on a thread of its own; returns once requests are answered.
  void start();
  // Stops accepting, cancels the jobs, ends event streams and waits for open requests. Any thread; idempotent.
  void stop();

  int port() const;
  std::string url() const;  // http://host:port/
  JobQueue& jobs();
  Gallery* gallery();  // null without a data folder

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace couture
