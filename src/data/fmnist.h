// Debian's Fashion-MNIST (package dataset-fashion-mnist: IDX files, gzip) and the map from its garment classes to
// K-Fashion parts and categories. Sandal, Sneaker, Bag and Ankle boot have no K-Fashion part and are left out.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "text/fmnist_vocabulary.h"

namespace couture {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct FashionMnist {
  int64_t count = 0;
  int rows = 28, cols = 28;
  std::vector<uint8_t> pixels;  // count x rows x cols, 0 = background, 255 = brightest garment
  std::vector<uint8_t> labels;  // 0..9
  const uint8_t* image(int64_t i) const { return pixels.data() + size_t(i) * rows * cols; }
};

// `split` is "train" or "t10k" (the IDX file prefixes). InputError naming the file and the Debian package when it
// is missing or malformed.
FashionMnist read_fashion_mnist(const std::filesystem::path& dir, const std::string& split);

// The garment classes kept and their K-Fashion part and category: fmnist_garment_classes() in
// text/fmnist_vocabulary.h.

}  // namespace couture
