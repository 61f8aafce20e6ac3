// The VQGAN against taming-transformers' own outputs (../shared/testdata/taming/vqgan_f16_mini*): the f16 topology
// at small width with every parameter perturbed. Indices must be equal; h, zq and dec within 1e-4 relative error.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "io/safetensors.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "support/golden.h"

namespace couture {
namespace {

const std::filesystem::path kDir = std::filesystem::path(COUTURE_SHARED_TESTDATA) / "taming";

double relative_error(const at::Tensor& out, const at::Tensor& ref) {
  return ((out.to(torch::kFloat) - ref).norm() / ref.norm()).item<double>();
}

class VQGanGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    COUTURE_NEED_REFERENCE(std::filesystem::exists(kDir / "vqgan_f16_mini.safetensors"),
                           "reference vectors not found at " << kDir << " (../shared/testdata is absent)");
  }
};

TEST_F(VQGanGolden, EncoderQuantizerDecoderMatchTaming) {
  auto model = load_vqgan(kDir / "vqgan_f16_mini.safetensors", kDir / "vqgan_f16_mini_config.json");
  model->eval();
  auto io = SafetensorsFile::open(kDir / "vqgan_f16_mini_io.safetensors");
  torch::NoGradGuard no_grad;
  auto enc = model->encode(load_tensor(io, "x"));
  auto dec = model->decode(enc.zq);
  const double h = relative_error(enc.h, load_tensor(io, "h"));
  const double zq = relative_error(enc.zq, load_tensor(io, "zq"));
  const double d = relative_error(dec, load_tensor(io, "dec"));
  auto ref_indices = load_tensor(io, "indices");
  const int64_t mismatched = enc.indices.ne(ref_indices).sum().item<int64_t>();
  std::printf("vqgan_f16_mini: relative error h %.3g, zq %.3g, dec %.3g; %lld of %lld indices differ\n", h, zq, d,
              static_cast<long long>(mismatched), static_cast<long long>(ref_indices.numel()));
  EXPECT_EQ(enc.indices.sizes(), ref_indices.sizes());
  EXPECT_EQ(mismatched, 0);
  EXPECT_LT(h, 1e-4);
  EXPECT_LT(zq, 1e-4);
  EXPECT_LT(d, 1e-4);
}

TEST_F(VQGanGolden, DecodingTheReferenceCodesGivesTheReferenceImage) {
  auto model = load_vqgan(kDir / "vqgan_f16_mini.safetensors", kDir / "vqgan_f16_mini_config.json");
  model->eval();
  auto io = SafetensorsFile::open(kDir / "vqgan_f16_mini_io.safetensors");
  torch::NoGradGuard no_grad;
  auto dec = model->decode_codes(load_tensor(io, "indices"));
  const double d = relative_error(dec, load_tensor(io, "dec"));
  std::printf("decode_codes(indices): relative error %.3g\n", d);
  EXPECT_LT(d, 1e-4);
}

TEST_F(VQGanGolden, TamingKeySetEqualsOurs) {
  auto file = SafetensorsFile::open(kDir / "vqgan_f16_mini.safetensors");
  VQModel model(VQGanConfig::load(kDir / "vqgan_f16_mini_config.json"));
  auto ours = state_dict(*model);
  EXPECT_EQ(ours.size(), file.tensors().size());
  for (const auto& [name, t] : ours) EXPECT_NE(file.find(name), nullptr) << name;
}

}  // namespace
}  // namespace couture
