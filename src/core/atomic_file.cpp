#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "core/error.h"

namespace couture {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const fs::path& target,
                       const std::function<void(const std::function<void(const void*, size_t)>&)>& write) {
  fs::path dir = target.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    COUTURE_CHECK(!ec, "writing '", target.string(), "': cannot create folder '", dir.string(), "': ", ec.message());
  }
  std::random_device rd;
  fs::path tmp = target;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  COUTURE_CHECK(fd >= 0, "writing '", target.string(), "': ", errno_text());
  auto fail = [&](const std::string& what) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error("writing '" + target.string() + "': " + what);
  };
  try {
    write([&](const void* data, size_t n) {
      const char* p = static_cast<const char*>(data);
      while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
          if (errno == EINTR) continue;
          throw Error(errno_text());
        }
        p += w;
        n -= size_t(w);
      }
    });
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (::fsync(fd) != 0) fail(errno_text());
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error("writing '" + target.string() + "': " + errno_text());
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error("writing '" + target.string() + "': " + why);
  }
  fsync_directory(dir);
}

void write_file_atomic(const fs::path& target, std::string_view bytes) {
  write_file_atomic(target, [&](const auto& sink) { sink(bytes.data(), bytes.size()); });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  COUTURE_CHECK_INPUT(in, "'", path.string(), "': cannot open: ", errno_text());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  COUTURE_CHECK_INPUT(!in.bad(), "'", path.string(), "': read error");
  return data;
}

}  // namespace couture
