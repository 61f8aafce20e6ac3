// Loading modules by name: every missing, unexpected or misshapen tensor is refused with its name; zero-copy
// tensors keep their file mapping alive.
#include "nn/tensor_io.h"

#include <gtest/gtest.h>

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

TEST(TensorIo, RefusesNonFiniteWeights) {
  TempDir dir;
  EXPECT_THROW(save_tensors(dir / "nan.safetensors", {{"w", torch::tensor({1.f, NAN})}}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "nan.safetensors"));
}

}  // namespace
