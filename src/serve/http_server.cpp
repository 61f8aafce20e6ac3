#include "serve/http_server.h"

#include "serve/http_message.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <regex>
#include <unordered_map>

namespace couture::http {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds(25);      // how often deadlines and streams are looked at
constexpr auto kLinger = std::chrono::milliseconds(2000);  // reading what a client still sends after our answer

}  // namespace

struct Server::Impl {
  struct Route {
    std::string method;
    std::regex pattern;
    Handler handler;
  };
  struct Connection {
    int fd = -1;
    std::string remote;
    std::string in, out;            // received and not yet used; to send
    size_t sent = 0;                // of `out`
    Clock::time_point deadline;     // the request must be in by then; or the answer written (progress resets it)
    bool head_done = false;
    size_t head_bytes = 0, body_bytes = 0;
    Request request;
    int requests = 0;
    bool close_after = false;       // once `out` is sent
    bool lingering = false;         // answered and shut down for writing: reading what the client still sends
    bool eof = false;               // the client has closed its side: answer what came whole, then close
    bool dead = false;              // to be closed by reap() (after the event being handled)
    StreamSource stream;
    Clock::time_point next_poll;
    uint32_t interest = 0;
    bool registered = false;
  };

  Options options;
  std::vector<Route> routes;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  std::unordered_map<int, Connection> connections;
  std::map<std::string, int> per_client;
  std::atomic<bool> stopping{false}, is_running{false};
  std::atomic<size_t> n_connections{0}, n_streams{0}, n_refused{0}, n_timed_out{0}, n_requests{0};
  Clock::time_point accept_paused_until{};
  bool accepting = false;
  bool woken = false;  // wake(): poll the streams now
  int connection_limit = 0;  // options.max_connections, or what the open-file limit allows (set by run())

  explicit Impl(Options o) : options(std::move(o)) {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
  }
  ~Impl() {
    for (auto& [fd, c] : connections) ::close(fd);
    if (listen_fd >= 0) ::close(listen_fd);
    ::close(wake_fd);
    ::close(epoll_fd);
  }

  void set_interest(Connection& c) {
    const bool pending = c.sent < c.out.size();
    // Reading stops while an answer is pending (pipelined requests wait in the socket) unless the bytes are
    // thrown away (a stream's client, a lingering close).
    // (Once the client has closed its side there is nothing more to read, and epoll would report it forever.)
    const bool read = !c.eof && (c.stream || c.lingering || (!pending && !c.close_after));
    const uint32_t want = (read ? EPOLLIN | EPOLLRDHUP : 0u) | (pending ? EPOLLOUT : 0u);
    if (c.registered && want == c.interest) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
    c.interest = want, c.registered = true;
  }

  void release_client(Connection& c) {
    if (c.remote.empty()) return;
    if (auto pc = per_client.find(c.remote); pc != per_client.end() && --pc->second == 0) per_client.erase(pc);
    c.remote.clear();
  }

  // Closes the connections marked dead. Only here are connections erased, so a Connection& stays valid while an
  // event is handled; a dead one's descriptor stays open until then, so accept() cannot reuse its number.
  void reap() {
    for (auto it = connections.begin(); it != connections.end();) {
      Connection& c = it->second;
      if (!c.dead) {
        ++it;
        continue;
      }
      if (c.stream) --n_streams;
      release_client(c);
      ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      it = connections.erase(it);
      --n_connections;
    }
  }

  void set_accepting(bool on) {
    if (listen_fd < 0 || on == accepting) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    ::epoll_ctl(epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd, &ev);
    accepting = on;
  }

  std::string error_answer(const Request& req, int status, const std::string& message, bool close) {
    Response res;
    res.status = status;
    if (close) res.set_header("Connection", "close");
    if (options.error_body) options.error_body(req, res, message);
    return serialize(req, res, !close, /*chunked=*/false);
  }

  // The answer's bytes: its head, then its body unless it is chunked (a stream's) or the request is HEAD.
  std::string serialize(const Request& req, const Response& res, bool keep_alive, bool chunked) {
    std::string head = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) + "\r\n";
    for (const auto& [k, v] : options.default_headers)
      if (!res.has_header(k)) head += k + ": " + v + "\r\n";
    for (const auto& [k, v] : res.headers)
      if (!iequals(k, "Connection") && !iequals(k, "Content-Length") && !iequals(k, "Transfer-Encoding"))
        head += k + ": " + v + "\r\n";
    if (!res.content_type.empty()) head += "Content-Type: " + res.content_type + "\r\n";
    if (chunked) {
      head += "Transfer-Encoding: chunked\r\n";
      keep_alive = false;
    } else if (res.status != 204 && res.status >= 200) {
      head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    }
    if (has_token(header_of(res.headers, "Connection"), "close")) keep_alive = false;
    head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (req.method != "HEAD" && !chunked) head += res.body;
    return head;
  }

  // Queues `bytes` and tries to send them now.
  void send(Connection& c, std::string bytes) {
    c.out += bytes;  // (flush() empties `out` once all of it is sent)
    c.deadline = Clock::now() + options.request_timeout;
    flush(c);
  }

  // Sends what it can; false when the connection is gone.
  bool flush(Connection& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += size_t(n);
        c.deadline = Clock::now() + options.request_timeout;  // progress
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      c.dead = true;
      return false;
    }
    if (c.sent == c.out.size()) {
      c.out.clear(), c.sent = 0;
      if (c.close_after && !c.stream && !c.lingering && c.eof) {
        c.dead = true;
        return false;
      } else if (c.close_after && !c.stream && !c.lingering) {
        // Lingering close: stop sending, then read what the client still sends for a moment, so that its
        // unread request does not turn our answer into a reset.
        ::shutdown(c.fd, SHUT_WR);
        c.lingering = true;
        release_client(c);  // a closing connection does not count against its address's cap
        c.deadline = Clock::now() + std::min<Clock::duration>(kLinger, options.request_timeout);
      } else if (!c.close_after && !c.stream && !c.head_done) {
        c.deadline = Clock::now() + options.request_timeout;  // ready for the next request
      }
    }
    set_interest(c);
    return true;
  }

  void refuse(Connection& c, int status, const std::string& message) {
    c.close_after = true;
    send(c, error_answer(c.request, status, message, true));
  }

  // Reads what the socket has; false when the connection is to close.
  bool on_readable(Connection& c) {
    char buffer[16384];
    const size_t cap =
        options.max_head_bytes + std::max(options.max_body_bytes, options.max_upload_bytes) + sizeof buffer;
    for (;;) {
      if (!c.stream && !c.lingering && c.in.size() >= cap) break;
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (!c.stream && !c.lingering) c.in.append(buffer, size_t(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 || c.stream || c.lingering) {  // reset, or nobody left to send to
        c.dead = true;
        return false;
      }
      c.eof = true;  // a request that came whole before the end is still answered
      c.close_after = c.close_after || c.in.empty();
      break;
    }
    return true;
  }

  // Parses and answers the requests that have arrived whole, one at a time.
  void advance(Connection& c) {
    while (!c.dead && !c.close_after && !c.stream && c.sent == c.out.size() && !c.in.empty()) {
      if (!c.head_done) {
        size_t end = c.in.find("\r\n\r\n"), skip = 4;
        if (const size_t lf = c.in.find("\n\n"); lf != std::string::npos && (end == std::string::npos || lf < end))
          end = lf, skip = 2;
        if (end == std::string::npos || end > options.max_head_bytes) {
          if (c.in.size() <= options.max_head_bytes && end == std::string::npos) return;  // more to come
          const bool line_too_long = c.in.find('\n') == std::string::npos || c.in.find('\n') > kMaxTarget + 32;
          return refuse(c, line_too_long ? 414 : 431,
                        line_too_long ? "the request line is longer than 8192 bytes"
                                      : "the request headers are larger than " +
                                            std::to_string(options.max_head_bytes) + " bytes");
        }
        c.request = Request{};
        c.request.remote = c.remote;
        if (auto refusal = parse_head(std::string_view(c.in).substr(0, end), c.request))
          return refuse(c, refusal->status, refusal->message);
        c.head_done = true;
        c.head_bytes = end + skip;
        if (!frame_body(c)) return;
      }
      if (c.in.size() < c.head_bytes + c.body_bytes) return;  // the body is still coming
      c.request.body = c.in.substr(c.head_bytes, c.body_bytes);
      c.in.erase(0, c.head_bytes + c.body_bytes);
      c.head_done = false;
      dispatch(c);
    }
  }

  // After the head: how long the body is, or an answer that ends the request (false).
  bool frame_body(Connection& c) {
    const Request& req = c.request;
    const std::string te = req.header("Transfer-Encoding");
    if (req.has_header("Transfer-Encoding") && !iequals(trim(te), "identity")) {
      refuse(c, 411, "send the body with a Content-Length (at most " + std::to_string(options.max_body_bytes) +
                         " bytes); Transfer-Encoding '" + te.substr(0, 40) + "' is not accepted");
      return false;
    }
    c.body_bytes = 0;
    bool seen = false;
    for (const auto& [k, v] : req.headers) {
      if (!iequals(k, "Content-Length")) continue;
      if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](char d) { return d >= '0' && d <= '9'; })) {
        refuse(c, 400, "malformed Content-Length");
        return false;
      }
      const size_t n = std::stoull(v);
      if (seen && n != c.body_bytes) {
        refuse(c, 400, "two different Content-Length headers");
        return false;
      }
      seen = true, c.body_bytes = n;
    }
    const size_t limit = options.is_upload && options.is_upload(req)
                             ? std::max(options.max_body_bytes, options.max_upload_bytes)
                             : options.max_body_bytes;
    if (c.body_bytes > limit) {
      refuse(c, 413, "the request body is larger than " + std::to_string(limit) + " bytes");
      return false;
    }
    if (options.pre_routing) {
      Response res;
      if (options.pre_routing(req, res)) {
        c.head_done = false;
        const bool unread_body = c.body_bytes > 0;
        if (!unread_body) c.in.erase(0, c.head_bytes);
        answer(c, req, res, /*keep_alive=*/!unread_body && keep_alive(c, req));
        return false;
      }
    }
    if (c.body_bytes > 0 && has_token(req.header("Expect"), "100-continue") &&
        c.in.size() < c.head_bytes + c.body_bytes)
      send(c, "HTTP/1.1 100 Continue\r\n\r\n");
    return true;
  }

  bool keep_alive(const Connection& c, const Request& req) const {
    return !stopping && !c.eof && c.requests + 1 < options.max_requests_per_connection &&
           !has_token(req.header("Connection"), "close");
  }

  void dispatch(Connection& c) {
    Request req = std::move(c.request);
    c.request = Request{};
    Response res;
    std::string allowed;
    bool found = false;
    try {
      for (const auto& route : routes) {
        std::smatch m;
        if (!std::regex_match(req.path, m, route.pattern)) continue;
        if (route.method != req.method && !(req.method == "HEAD" && route.method == "GET")) {
          if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
          continue;
        }
        req.matches.assign(m.begin(), m.end());
        found = true;
        route.handler(req, res);
        break;
      }
      if (!found) {
        res.status = allowed.empty() ? 404 : 405;
        if (!allowed.empty())
          res.set_header("Allow", allowed.find("GET") != std::string::npos ? allowed + ", HEAD" : allowed);
      }
    } catch (const std::exception& e) {
      res = Response{};
      res.status = 500;
      if (options.error_body) options.error_body(req, res, std::string("internal error: ") + e.what());
    }
    if (res.status >= 400 && res.body.empty() && !res.stream && options.error_body) {
      const std::string message = res.status == 404 ? "no such resource: " + req.method + " " + req.path.substr(0, 100)
                                  : res.status == 405 ? req.method + " is not allowed on " + req.path.substr(0, 100) +
                                                            " (allowed: " + header_of(res.headers, "Allow") + ")"
                                                      : reason_phrase(res.status);
      options.error_body(req, res, message);
    }
    answer(c, req, res, keep_alive(c, req));
  }

  void answer(Connection& c, const Request& req, Response& res, bool keep) {
    ++n_requests;
    ++c.requests;
    const bool streamed = res.stream && req.method != "HEAD";
    if (streamed) {
      c.stream = std::move(res.stream);
      ++n_streams;
      c.next_poll = Clock::now();
    }
    if (!keep || streamed) c.close_after = true;  // a stream's connection ends with it
    send(c, serialize(req, res, keep, streamed));
    if (!c.dead && c.stream) poll_stream(c);
  }

  void poll_stream(Connection& c) {
    if (c.sent < c.out.size()) return;  // the client has not read what was sent before
    std::string data;
    bool more = false;
    try {
      more = c.stream(data);
    } catch (const std::exception&) {
      more = false;
    }
    c.next_poll = Clock::now() + options.stream_poll;
    std::string bytes;
    if (!data.empty()) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      bytes = size + data + "\r\n";
    }
    if (!more) {
      bytes += "0\r\n\r\n";
      c.stream = nullptr;
      --n_streams;
    }
    if (!bytes.empty()) send(c, std::move(bytes));
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          set_accepting(false);  // out of descriptors: look again in a moment rather than spin
          accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
        }
        return;
      }
      char text[INET6_ADDRSTRLEN] = "?";
      if (addr.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
      else if (addr.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
      const std::string remote = text;
      std::string why;
      if (int(connections.size()) >= connection_limit)
        why = "the server has " + std::to_string(connection_limit) + " connections open";
      else if (per_client[remote] >= options.max_per_client)
        why = remote + " has " + std::to_string(options.max_per_client) + " connections open";
      if (!why.empty()) {
        if (per_client[remote] == 0) per_client.erase(remote);
        ++n_refused;
        // Best effort and without waiting: the answer fits the socket's buffer; then close.
        Request none;
        const std::string bytes =
            error_answer(none, 429, "too many connections: " + why + "; close one and retry", true);
        (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        char sink[4096];
        while (::recv(fd, sink, sizeof sink, 0) > 0) {
        }
        ::close(fd);
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ++per_client[remote];
      Connection& c = connections[fd];
      c.fd = fd;
      c.remote = remote;
      c.deadline = Clock::now() + options.request_timeout;
      ++n_connections;
      set_interest(c);
    }
  }

  int default_max_connections() const {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
    return std::max(16, int(std::min<rlim_t>(limit.rlim_cur, 1 << 20)) - 64);  // the rest: models, files, logs
  }

  void on_deadlines(Clock::time_point now) {
    std::vector<int> expired;
    for (auto& [fd, c] : connections) {
      if (c.stream && c.sent == c.out.size() && (woken || now >= c.next_poll)) poll_stream(c);
      const bool waiting_stream = c.stream && c.sent == c.out.size();  // its source decides when it ends
      if (!c.dead && !waiting_stream && now >= c.deadline) expired.push_back(fd);
    }
    woken = false;
    for (int fd : expired) {
      Connection& c = connections.at(fd);
      const bool request_started = !c.in.empty() || c.head_done;
      if (c.sent == c.out.size() && !c.stream && !c.lingering && !c.close_after && request_started) {
        ++n_timed_out;  // a request that did not arrive whole in time: say so, then close
        c.head_done = false;
        refuse(c, 408, "the request did not arrive whole within " +
                            std::to_string(options.request_timeout.count() / 1000.0).substr(0, 4) + " s");
        continue;
      }
      if (c.sent < c.out.size()) ++n_timed_out;  // the client does not read its answer
      c.dead = true;
    }
    reap();
  }

  void run() {
    connection_limit = options.max_connections > 0 ? options.max_connections : default_max_connections();
    is_running = true;
    set_accepting(true);
    Clock::time_point stop_deadline{};
    bool stop_seen = false;
    epoll_event events[256];
    while (true) {
      const int n = ::epoll_wait(epoll_fd, events, 256, int(kTick.count()));
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
          continue;
        }
        if (fd == wake_fd) {
          uint64_t value;
          (void)!::read(wake_fd, &value, sizeof value);
          woken = true;
          continue;
        }
        auto it = connections.find(fd);
        if (it == connections.end()) continue;
        Connection& c = it->second;
        const uint32_t happened = events[i].events;
        if ((happened & EPOLLOUT) && !flush(c)) continue;
        if ((happened & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !on_readable(c)) continue;
        if (happened & EPOLLERR) c.dead = true;
        advance(c);
        if (!c.dead && c.eof && c.sent == c.out.size() && !c.stream && !c.lingering) c.dead = true;
        if (!c.dead) set_interest(c);
      }
      reap();
      const auto now = Clock::now();
      if (!accepting && !stopping && now >= accept_paused_until) set_accepting(true);
      on_deadlines(now);
      if (stopping) {
        if (!stop_seen) {
          stop_seen = true;
          stop_deadline = now + options.request_timeout;
          set_accepting(false);
          ::close(listen_fd);
          listen_fd = -1;
        }
        // Idle connections, unfinished requests and lingering closes end now; answers and streams being sent may
        // finish.
        for (auto& [fd, c] : connections)
          if (!c.stream && c.sent == c.out.size()) c.dead = true;
        reap();
        if (connections.empty() || now >= stop_deadline) break;
      }
    }
    for (auto& [fd, c] : connections) c.dead = true;
    reap();
    is_running = false;
  }
};

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;

void Server::route(const std::string& method, const std::string& pattern, Handler handler) {
  impl_->routes.push_back({method, std::regex(pattern), std::move(handler)});
}

int Server::bind(const std::string& host, int port, std::string& error) {
  // Every connection is a descriptor: use what the system allows this process (the hard limit).
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 1 << 20);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    // SO_REUSEADDR allows a quick restart; without SO_REUSEPORT a second server on the port fails to bind.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return -1;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->listen_fd = fd;
  return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void Server::run() {
  if (impl_->listen_fd < 0 || impl_->stopping) return;
  impl_->run();
}

void Server::stop() {
  impl_->stopping = true;
  wake();
}

void Server::wake() {
  const uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
}

bool Server::running() const { return impl_->is_running; }

Stats Server::stats() const {
  return {impl_->n_connections, impl_->n_streams, impl_->n_refused, impl_->n_timed_out, impl_->n_requests};
}

}  // namespace couture::http
