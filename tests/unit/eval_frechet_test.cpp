// The Fréchet distance `couture eval generate` reports, on Gaussians whose distance is known in closed form:
// d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2).
#include <gtest/gtest.h>

#include <cstdio>

#include "eval/generate_eval.h"

namespace couture {
namespace {

TEST(Frechet, IdenticalSetsAreAtZero) {
  torch::manual_seed(1);
  auto a = torch::randn({500, 16});
  const double d = frechet_distance(a, a);
  std::printf("FD(a, a) = %.3g\n", d);
  EXPECT_NEAR(d, 0.0, 1e-6);
}

TEST(Frechet, AShiftAddsItsSquaredLength) {
  torch::manual_seed(2);
  auto a = torch::randn({2000, 3}) * torch::tensor({1.0, 0.5, 2.0});
  auto b = a + torch::tensor({1.0, 2.0, 2.0});  // same covariance: only the means differ, by length 3
  const double d = frechet_distance(a, b);
  std::printf("FD = %.6f, expected 9, difference %.2g\n", d, std::abs(d - 9.0));
  EXPECT_NEAR(d, 9.0, 1e-6);
}

TEST(Frechet, AScaledGaussian) {
  // N(0, I_2) vs N(0, 4 I_2): 0 + 2 + 8 - 2 * tr(2 I_2) = 2, up to sampling error.
  torch::manual_seed(3);
  auto a = torch::randn({40000, 2}), b = 2 * torch::randn({40000, 2});
  const double d = frechet_distance(a, b);
  std::printf("FD = %.4f, expected 2, difference %.2g\n", d, std::abs(d - 2.0));
  EXPECT_NEAR(d, 2.0, 0.1);
  EXPECT_NEAR(frechet_distance(b, a), d, 1e-6) << "the distance is symmetric";
}

TEST(Frechet, RefusesMismatchedFeatures) {
  EXPECT_THROW(frechet_distance(torch::randn({10, 4}), torch::randn({10, 5})), Error);
  EXPECT_THROW(frechet_distance(torch::randn({1, 4}), torch::randn({10, 4})), Error);
}

}  // namespace
}  // namespace couture
