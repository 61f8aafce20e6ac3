// A TCP port that is free now, for tests that start c10d rendezvous servers (MASTER_PORT). The kernel picks it
// (bind to port 0), so it is none that another test or connection holds at that moment; a port computed from the
// process id, as before, fell inside Linux's ephemeral range (32768-60999) and once met one a neighbouring
// connection had taken ("Address already in use").
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace couture::testing {

inline int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_tcp_port: socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);  // a socket that never listened or connected leaves no TIME_WAIT behind
  if (!ok) throw std::runtime_error("free_tcp_port: could not bind a port");
  return ntohs(addr.sin_port);
}

}  // namespace couture::testing
