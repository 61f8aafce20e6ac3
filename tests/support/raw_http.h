// HTTP as raw bytes on loopback, for what a client library would not send (malformed requests, slow or chunked
// bodies), and the test process's resident memory (the server under test runs in it).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace couture::testing {

// A plain TCP connection to the server (-1 on failure), for what a client library would not send.
inline int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

// Sends raw bytes and returns the server's answer.
inline std::string raw_exchange(int port, const std::string& bytes, int read_timeout_s = 10) {
  int fd = connect_loopback(port);
  if (fd < 0) return "";
  timeval tv{read_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
  // Until the server closes, or the whole answer is in (the server may keep the connection for another request).
  std::string answer;
  char buffer[4096];
  auto complete = [&] {
    auto head_end = answer.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    auto at = answer.find("Content-Length: ");
    return at != std::string::npos && at < head_end &&
           answer.size() >= head_end + 4 + std::stoul(answer.substr(at + 16));
  };
  for (ssize_t n; !complete() && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, size_t(n));
  ::close(fd);
  return answer;
}

inline int status_of(const std::string& answer) {  // "HTTP/1.1 400 Bad Request" -> 400
  return answer.size() > 12 ? std::atoi(answer.c_str() + 9) : 0;
}

inline std::string body_of(const std::string& answer) {
  auto at = answer.find("\r\n\r\n");
  return at == std::string::npos ? "" : answer.substr(at + 4);
}

// VmRSS of this process in KB (0 when /proc is not there).
inline long rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0L;
}

}  // namespace couture::testing
