// PackedLinear (nn/packed_linear.h): each epilogue against the same arithmetic in ATen, with weights as given (fp32:
// equal to rounding) and stored as int8 (issue #23: within the quantisation's error, and really quantised).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdio>

#include "nn/packed_linear.h"

namespace couture {
namespace {

using E = PackedLinear::Epilogue;
using W = PackedLinear::Weights;

struct Case {
  at::Tensor x, w, b, operand, residual;
};

Case make_case(int64_t M, int64_t K, int64_t N, uint64_t seed) {
  at::manual_seed(seed);
  Case c;
  c.x = at::randn({M, K});
  c.w = at::randn({N, K}) * 0.05;
  c.b = at::randn({N}) * 0.1;
  c.operand = at::randn({M, N});
  c.residual = at::randn({M, N});
  return c;
}

// What each epilogue computes, in fp32 ATen.
at::Tensor reference(const Case& c, E epilogue, bool bias) {
  auto y = at::linear(c.x, c.w, bias ? c.b : at::Tensor());
  switch (epilogue) {
    case E::plain: return y;
    case E::gelu: return at::gelu(y);
    case E::times: return y * c.operand;
    case E::residual: return c.residual + c.b.abs() * y;  // s = |b| as the LayerScale
  }
  return y;
}

at::Tensor run(const Case& c, E epilogue, bool bias, W stored) {
  PackedLinear layer(c.w, bias ? c.b : at::Tensor(), epilogue, at::kFloat, stored);
  if (epilogue == E::times) return layer(c.x, c.operand);
  if (epilogue == E::residual) {
    auto out = c.residual.clone();
    layer(c.x, c.b.abs().contiguous(), out);
    return out;
  }
  return layer(c.x);
}

double rel_err(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / b.norm().item<double>();
}

TEST(PackedLinear, EveryEpilogueMatchesATen) {
  if (!PackedLinear::available(at::kFloat)) GTEST_SKIP() << "no optimised fp32 kernel here";
  const Case c = make_case(7, 96, 80, 1);
  for (E epilogue : {E::plain, E::gelu, E::times, E::residual})
    for (bool bias : {false, true}) {
      const double d = (run(c, epilogue, bias, W::as_given) - reference(c, epilogue, bias)).abs().max().item<double>();
      std::printf("fp32 epilogue %d bias %d: max |packed - ATen| %.3g\n", int(epilogue), bias, d);
      EXPECT_LT(d, 1e-4) << "epilogue " << int(epilogue) << " bias " << bias;
    }
}

// int8 weights: close to the fp32 result (about 1% relative error per product), with the bias and the epilogue
// applied after the scales (a bias added before them would be off by the scale, a relative error near 1), and
// not the fp32 result exactly (so the int8 kernel really ran).
TEST(PackedLinear, Int8WeightsStayWithinTheQuantisationError) {
  if (!PackedLinear::available(at::kFloat, W::int8)) GTEST_SKIP() << "no optimised int8 kernel here";
  for (int64_t M : {1, 16, 33}) {
    const Case c = make_case(M, 256, 192, 2 + uint64_t(M));
    for (E epilogue : {E::plain, E::gelu, E::times, E::residual})
      for (bool bias : {false, true}) {
        const auto want = reference(c, epilogue, bias);
        // The residual's own part is exact: compare the product's part alone.
        const auto base = epilogue == E::residual ? c.residual : at::zeros_like(want);
        const double e = rel_err(run(c, epilogue, bias, W::int8) - base, want - base);
        std::printf("int8 M %lld epilogue %d bias %d: rel err %.3g\n", (long long)M, int(epilogue), bias, e);
        EXPECT_LT(e, 0.03) << "M " << M << " epilogue " << int(epilogue) << " bias " << bias;
        EXPECT_GT(e, 1e-4) << "the int8 path gave the fp32 result exactly";
      }
  }
}

TEST(PackedLinear, Int8TakesBf16InputsAndZeroInputs) {
  if (!PackedLinear::available(at::kBFloat16, W::int8)) GTEST_SKIP() << "no optimised int8 kernel here";
  const Case c = make_case(16, 128, 64, 5);
  PackedLinear layer(c.w.to(at::kBFloat16), c.b, E::plain, at::kFloat, W::int8);
  EXPECT_TRUE(layer.int8());
  const double e = rel_err(layer(c.x.to(at::kBFloat16)), reference(c, E::plain, true));
  std::printf("int8 with bf16 input: rel err %.3g\n", e);
  EXPECT_LT(e, 0.03);
  // An all-zero input (its scale would be 0) gives the bias alone, not NaN.
  auto zero = layer(at::zeros({16, 128}, at::kBFloat16));
  EXPECT_TRUE(at::allclose(zero, c.b.expand({16, 64}))) << zero.abs().max().item<double>();
}

}  // namespace
}  // namespace couture
