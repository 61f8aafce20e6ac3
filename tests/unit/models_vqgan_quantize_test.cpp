// The vector quantizer: nearest codes, the straight-through gradient, taming's legacy loss, and the codebook-health
// tools (usage and perplexity counts, dead-code re-initialisation, k-means initialisation).
#include <gtest/gtest.h>

#include <cmath>

#include "models/vqgan_quantize.h"

namespace couture {
namespace {

VectorQuantizer quantizer_with(const at::Tensor& codebook, double beta = 0.25) {
  VectorQuantizer q(codebook.size(0), codebook.size(1), beta);
  torch::NoGradGuard no_grad;
  q->embedding->weight.copy_(codebook);
  return q;
}

TEST(VectorQuantizer, ChoosesTheNearestCodeRowMajor) {
  torch::manual_seed(3);
  auto codebook = torch::randn({32, 8});
  auto q = quantizer_with(codebook);
  q->eval();
  auto z = torch::randn({2, 8, 3, 5});
  auto out = q(z);
  ASSERT_EQ(out.indices.sizes(), (std::vector<int64_t>{2, 15}));
  auto flat = z.permute({0, 2, 3, 1}).reshape({-1, 8});
  auto brute = torch::cdist(flat, codebook).argmin(1).view({2, 15});
  EXPECT_TRUE(torch::equal(out.indices, brute));
  // zq holds the chosen codes at the same grid positions.
  EXPECT_TRUE(torch::allclose(out.zq[1].select(1, 2).select(1, 4), codebook[brute[1][2 * 5 + 4].item<int64_t>()]));
}

TEST(VectorQuantizer, GradientPassesStraightThroughToTheEncoder) {
  auto q = quantizer_with(torch::randn({16, 4}));
  auto z = torch::randn({1, 4, 2, 2}, torch::requires_grad());
  auto weights = torch::randn({1, 4, 2, 2});
  (q(z).zq * weights).sum().backward();
  EXPECT_TRUE(torch::allclose(z.grad(), weights));  // d zq / d z = identity
}

TEST(VectorQuantizer, LegacyLossWeighsTheCodebookTermByBeta) {
  const double beta = 0.25;
  auto codebook = torch::randn({16, 4});
  auto q = quantizer_with(codebook, beta);
  auto z = torch::randn({1, 4, 2, 2}, torch::requires_grad());
  auto out = q(z);
  auto zq = codebook.index_select(0, out.indices.view(-1)).view({1, 2, 2, 4}).permute({0, 3, 1, 2});
  const double mse = (zq - z.detach()).pow(2).mean().item<double>();
  EXPECT_NEAR(out.loss.item<double>(), (1 + beta) * mse, 1e-6);
  out.loss.backward();
  // d/dz: the commitment term with weight 1; d/de: the codebook term with weight beta.
  EXPECT_TRUE(torch::allclose(z.grad(), 2.0 * (z.detach() - zq) / 16.0, 1e-5, 1e-6));
  auto g = q->embedding->weight.grad();
  auto expected = torch::zeros_like(codebook);
  auto diffs = (zq - z.detach()).permute({0, 2, 3, 1}).reshape({4, 4});
  expected.index_add_(0, out.indices.view(-1), 2.0 * beta * diffs / 16.0);
  EXPECT_TRUE(torch::allclose(g, expected, 1e-5, 1e-6));
}

TEST(VectorQuantizer, L2LookupChoosesByCosineAndDecodesUnitCodes) {
  torch::manual_seed(5);
  auto codebook = torch::randn({64, 8}) * torch::rand({64, 1}) * 5;  // rows of very different lengths
  VectorQuantizer q(64, 8, 0.25, /*l2_normalize=*/true);
  {
    torch::NoGradGuard no_grad;
    q->embedding->weight.copy_(codebook);
  }
  q->eval();
  auto z = torch::randn({2, 8, 3, 3}) * 7;
  auto out = q(z);
  auto flat = z.permute({0, 2, 3, 1}).reshape({-1, 8});
  auto unit = [](const at::Tensor& v) { return v / v.norm(2, 1, /*keepdim=*/true); };
  auto cosine = unit(flat).matmul(unit(codebook).t());
  EXPECT_TRUE(torch::equal(out.indices.view(-1), cosine.argmax(1)));
  // Without the option the nearest code by distance differs for some vectors: the lengths matter there.
  VectorQuantizer plain(64, 8, 0.25);
  {
    torch::NoGradGuard no_grad;
    plain->embedding->weight.copy_(codebook);
  }
  plain->eval();
  EXPECT_FALSE(torch::equal(plain(z).indices, out.indices));
  // The decoder sees unit vectors, by the forward pass and by lookup alike.
  auto norms = out.zq.norm(2, 1);
  EXPECT_TRUE(torch::allclose(norms, torch::ones_like(norms), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(q->lookup(out.indices, 3, 3), out.zq, 1e-6, 1e-6));
}

TEST(CodebookStats, UsageAndPerplexity) {
  CodebookStats stats(8);
  stats.add(torch::tensor({0, 0, 1, 1}, torch::kLong));
  EXPECT_EQ(stats.used_codes(), 2);
  EXPECT_DOUBLE_EQ(stats.usage(), 0.25);
  EXPECT_NEAR(stats.perplexity(), 2.0, 1e-6);  // two equally likely codes
  stats.add(torch::tensor({2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7}, torch::kLong));
  EXPECT_EQ(stats.used_codes(), 8);
  EXPECT_NEAR(stats.perplexity(), 8.0, 1e-6);   // uniform over 8
  stats.reset();
  EXPECT_EQ(stats.total(), 0);
  stats.add(torch::full({10}, 5, torch::kLong));
  EXPECT_NEAR(stats.perplexity(), 1.0, 1e-6);   // one code
}

TEST(VectorQuantizer, TrainingCountsCodesAndDeadCodesMoveToEncoderOutputs) {
  // All inputs sit near code 0; the other codes are far away and never chosen.
  auto codebook = torch::cat({torch::zeros({1, 4}), torch::full({7, 4}, 100.0)});
  auto q = quantizer_with(codebook);
  q->train();
  auto z = torch::randn({4, 4, 2, 2}) * 0.1;
  q(z);
  EXPECT_EQ(q->usage.used_codes(), 1);
  EXPECT_EQ(q->usage.total(), 16);
  at::Generator gen = at::detail::createCPUGenerator(7);
  EXPECT_EQ(q->reinit_dead_codes(gen), 7);
  EXPECT_LT(q->embedding->weight.abs().max().item<double>(), 1.0);  // all codes now among the encoder outputs
  q(z);
  EXPECT_GT(q->since_reinit().used_codes(), 1);
  EXPECT_EQ(q->reinit_dead_codes(gen, /*min_count=*/0), 0);
}

TEST(VectorQuantizer, KMeansFindsSeparatedClusters) {
  auto centres = torch::tensor({{0.f, 0.f}, {10.f, 0.f}, {0.f, 10.f}, {10.f, 10.f}});
  auto points = centres.repeat({50, 1}) + torch::randn({200, 2}) * 0.1;
  VectorQuantizer q(32, 2, 0.25);  // enough codes that every cluster gets seeds
  at::Generator gen = at::detail::createCPUGenerator(11);
  const double mse = q->kmeans_init(points, 20, gen);
  EXPECT_LT(mse, 0.1);
  auto nearest = torch::cdist(centres, q->embedding->weight).min(1);
  EXPECT_LT(std::get<0>(nearest).max().item<double>(), 0.1);  // every centre found by some code
}

}  // namespace
}  // namespace couture
