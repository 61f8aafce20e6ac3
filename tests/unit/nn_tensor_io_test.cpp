// Loading modules by name: every missing, unexpected or misshapen tensor is refused with its name; zero-copy
// tensors keep their file mapping alive; loading does not keep the file's pages resident beside the weights.
#include "nn/tensor_io.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::TempDir;

namespace {

struct Net : torch::nn::Module {
  Net(int hidden) {
    register_module("proj", torch::nn::Linear(3, hidden));
    register_module("norm", torch::nn::BatchNorm1d(hidden));
  }
};

std::string load_error(Net& net, const std::filesystem::path& path) {
  try {
    load_state_dict(net, SafetensorsFile::open(path), "test net");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(TensorIo, RoundTripByName) {
  TempDir dir;
  torch::manual_seed(0);
  Net a(4), b(4);
  save_tensors(dir / "net.safetensors", state_dict(a), {{"config", "x"}});
  EXPECT_EQ(load_error(b, dir / "net.safetensors"), "");
  auto sa = state_dict(a), sb = state_dict(b);
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
}

TEST(TensorIo, NamesMissingUnexpectedAndMisshapenTensors) {
  TempDir dir;
  Net small(4), big(5);
  save_tensors(dir / "small.safetensors", state_dict(small));
  std::string shape = load_error(big, dir / "small.safetensors");
  EXPECT_NE(shape.find("'proj.weight' has shape [4,3], expected [5,3]"), std::string::npos) << shape;
  EXPECT_NE(shape.find("small.safetensors"), std::string::npos) << shape;

  auto partial = state_dict(small);
  partial.erase(partial.begin());
  save_tensors(dir / "partial.safetensors", partial);
  std::string missing = load_error(small, dir / "partial.safetensors");
  EXPECT_NE(missing.find("missing: 'proj.weight'"), std::string::npos) << missing;

  auto extra = state_dict(small);
  extra.emplace_back("stray.weight", torch::zeros({2}));
  save_tensors(dir / "extra.safetensors", extra);
  std::string unexpected = load_error(small, dir / "extra.safetensors");
  EXPECT_NE(unexpected.find("unexpected tensor(s): 'stray.weight'"), std::string::npos) << unexpected;
}

TEST(TensorIo, ZeroCopyTensorOutlivesTheFileObject) {
  TempDir dir;
  save_tensors(dir / "t.safetensors", {{"x", torch::arange(1000, torch::kFloat)}});
  at::Tensor x;
  {
    auto file = SafetensorsFile::open(dir / "t.safetensors");
    x = load_tensor(file, "x");
    EXPECT_EQ(x.data_ptr(), static_cast<const void*>(file.at("x").data)) << "expected a zero-copy view";
  }
  EXPECT_EQ(x[999].item<float>(), 999.f);
  x.mul_(2);  // copy-on-write mapping: writable, never reaches the file
  EXPECT_EQ(load_tensor(SafetensorsFile::open(dir / "t.safetensors"), "x")[999].item<float>(), 999.f);
}

// The file-backed part of this process's resident memory (Linux /proc/self/status RssFile), in MB.
double resident_file_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("RssFile:", 0) == 0) return std::stod(line.substr(8)) / 1024.0;
  return -1;
}

// A 1.3 GB DALL-E read into bf16 weights used to keep the whole file resident too (the kodalle bundle's peak at load).
TEST(TensorIo, LoadingLeavesTheFilesPagesOutOfMemory) {
  TempDir dir;
  torch::manual_seed(0);
  struct Big : torch::nn::Module {
    at::Tensor w = register_parameter("w", torch::randn({32, 1024, 1024}));  // 128 MB as float32
  } a, b;
  save_tensors(dir / "big.safetensors", state_dict(a));
  const double before = resident_file_mb();
  ASSERT_GE(before, 0) << "no RssFile in /proc/self/status";
  auto file = SafetensorsFile::open(dir / "big.safetensors");
  load_state_dict(b, file, "big");
  const double after = resident_file_mb();
  std::printf("resident file pages: %.1f MB before loading 128 MB, %.1f MB after\n", before, after);
  EXPECT_LT(after - before, 16.0) << "the file's pages stayed resident after the weights were copied out";
  EXPECT_TRUE(torch::equal(b.w, a.w));
  // Released pages are read again from the file when touched: the mapping still holds the tensor.
  EXPECT_TRUE(torch::equal(load_tensor(file, "w"), a.w));
}

TEST(TensorIo, RefusesNonFiniteWeights) {
  TempDir dir;
  EXPECT_THROW(save_tensors(dir / "nan.safetensors", {{"w", torch::tensor({1.f, NAN})}}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "nan.safetensors"));
}

}  // namespace
