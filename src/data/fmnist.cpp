#include "data/fmnist.h"

#include <zlib.h>

#include "core/error.h"

namespace couture {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPackageHint = " (install Debian's package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)";

// Reads an IDX file (big-endian header: magic 0x000008NN with NN dimensions, then one u32 per dimension).
std::vector<uint8_t> read_idx(const fs::path& path, int dims, std::vector<uint32_t>& shape) {
  COUTURE_CHECK_INPUT(fs::exists(path), "Fashion-MNIST not found: '", path.string(), "' is missing", kPackageHint);
  gzFile f = gzopen(path.c_str(), "rb");
  COUTURE_CHECK_INPUT(f, "'", path.string(), "': cannot open", kPackageHint);
  auto read_exact = [&](void* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      int got = gzread(f, static_cast<char*>(out) + done, unsigned(std::min<size_t>(n - done, 1u << 30)));
      if (got <= 0) return false;
      done += size_t(got);
    }
    return true;
  };
  auto u32 = [&](uint32_t& v) {
    unsigned char b[4];
    if (!read_exact(b, 4)) return false;
    v = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
    return true;
  };
  uint32_t magic = 0;
  bool ok = u32(magic) && magic == (0x800u | uint32_t(dims));
  shape.assign(size_t(dims), 0);
  size_t total = 1;
  for (int d = 0; ok && d < dims; ++d) {
    ok = u32(shape[size_t(d)]) && shape[size_t(d)] > 0 && shape[size_t(d)] <= 1000000;
    total *= shape[size_t(d)];
  }
  std::vector<uint8_t> data;
  if (ok && total <= (size_t(1) << 31)) {
    data.resize(total);
    ok = read_exact(data.data(), total);
  } else {
    ok = false;
  }
  gzclose(f);
  COUTURE_CHECK_INPUT(ok, "'", path.string(), "': not a ", dims, "-dimensional IDX file of unsigned bytes, or truncated",
                      kPackageHint);
  return data;
}

}  // namespace

FashionMnist read_fashion_mnist(const fs::path& dir, const std::string& split) {
  std::vector<uint32_t> image_shape, label_shape;
  FashionMnist out;
  fs::path images = dir / (split + "-images-idx3-ubyte.gz"), labels = dir / (split + "-labels-idx1-ubyte.gz");
  out.pixels = read_idx(images, 3, image_shape);
  out.labels = read_idx(labels, 1, label_shape);
  COUTURE_CHECK_INPUT(image_shape[0] == label_shape[0], "'", images.string(), "' holds ", image_shape[0],
                      " images but '", labels.string(), "' ", label_shape[0], " labels");
  out.count = image_shape[0];
  out.rows = int(image_shape[1]);
  out.cols = int(image_shape[2]);
  for (uint8_t l : out.labels) COUTURE_CHECK_INPUT(l < 10, "'", labels.string(), "': label ", int(l), " is not 0..9");
  return out;
}

}  // namespace couture
