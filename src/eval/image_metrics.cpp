#include "eval/image_metrics.h"

namespace couture {

at::Tensor psnr(const at::Tensor& a, const at::Tensor& b) {
  const auto mse = ((a.to(torch::kFloat) - b.to(torch::kFloat)) / 2).pow(2).mean({1, 2, 3}).clamp_min(1e-10);
  return -10 * mse.log10();
}

at::Tensor ssim(const at::Tensor& a_in, const at::Tensor& b_in) {
  namespace F = torch::nn::functional;
  const auto a = (a_in.to(torch::kFloat) + 1) / 2, b = (b_in.to(torch::kFloat) + 1) / 2;  // [0, 1]
  const int64_t channels = a.size(1), size = 11;
  auto g = torch::arange(size, torch::kFloat) - (size - 1) / 2.0;
  g = torch::exp(-g.pow(2) / (2 * 1.5 * 1.5));
  g = g / g.sum();
  const auto window = torch::outer(g, g).expand({channels, 1, size, size}).contiguous();
  auto blur = [&](const at::Tensor& x) { return F::conv2d(x, window, F::Conv2dFuncOptions().groups(channels)); };
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  const auto mu_a = blur(a), mu_b = blur(b);
  const auto var_a = blur(a * a) - mu_a * mu_a, var_b = blur(b * b) - mu_b * mu_b, cov = blur(a * b) - mu_a * mu_b;
  const auto map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2));
  return map.mean({1, 2, 3});
}

}  // namespace couture
