// Garment augmentation: geometry changes, colour does not (captions name the colour).
#include <gtest/gtest.h>

#include "models/clip.h"

namespace couture {
namespace {

// A dress-like garment (a bodice and a wider skirt) of `colour` on a light grey background, [3,64,64].
at::Tensor garment(const std::vector<float>& colour) {
  auto img = torch::full({3, 64, 64}, 0.9f);
  auto c = torch::tensor(colour).view({3, 1, 1});
  img.slice(1, 10, 30).slice(2, 24, 40).copy_(c.expand({3, 20, 16}));
  img.slice(1, 30, 56).slice(2, 16, 48).copy_(c.expand({3, 26, 32}));
  return img;
}

// Mean colour of the pixels nearer the garment colour than the background, and their count.
std::pair<at::Tensor, int64_t> garment_mean(const at::Tensor& img, const at::Tensor& colour) {
  auto bg = torch::full({3, 1, 1}, 0.9f);
  auto d_garment = (img - colour.view({3, 1, 1})).norm(2, 0);
  auto d_background = (img - bg).norm(2, 0);
  auto mask = d_garment.lt(d_background);
  return {img.index({torch::indexing::Slice(), mask}).mean(1), mask.sum().item<int64_t>()};
}

TEST(GarmentAugment, KeepsTheGarmentColour) {
  const std::vector<std::vector<float>> colours = {{0.8f, 0.1f, 0.1f}, {0.1f, 0.2f, 0.7f}, {0.95f, 0.85f, 0.2f},
                                                   {0.1f, 0.1f, 0.1f}};
  for (const auto& colour : colours) {
    auto c = torch::tensor(colour);
    auto batch = garment(colour).unsqueeze(0).repeat({16, 1, 1, 1});
    const int64_t area = garment_mean(batch[0], c).second;
    auto out = augment_garments(batch, at::make_generator<at::CPUGeneratorImpl>(11));
    ASSERT_EQ(out.sizes(), batch.sizes());
    double worst = 0;
    for (int64_t i = 0; i < 16; ++i) {
      auto [mean, n] = garment_mean(out[i], c);
      worst = std::max(worst, (mean - c).abs().max().item<double>());
      // A mild crop: the garment keeps most of its size.
      EXPECT_GT(n, area * 0.75);
      EXPECT_LT(n, area * 1.45);
    }
    // Only the blended edge pixels move the mean; no hue or brightness shift.
    EXPECT_LT(worst, 0.04) << "colour " << c;
    std::cout << "colour " << colour[0] << "," << colour[1] << "," << colour[2] << ": max mean-colour change "
              << worst << "\n";
  }
}

TEST(GarmentAugment, ChangesGeometryReproducibly) {
  auto batch = garment({0.8f, 0.1f, 0.1f}).unsqueeze(0).repeat({8, 1, 1, 1});
  auto a = augment_garments(batch, at::make_generator<at::CPUGeneratorImpl>(1));
  auto b = augment_garments(batch, at::make_generator<at::CPUGeneratorImpl>(1));
  auto c = augment_garments(batch, at::make_generator<at::CPUGeneratorImpl>(2));
  EXPECT_TRUE(a.equal(b));
  EXPECT_FALSE(a.equal(c));
  EXPECT_FALSE(a[0].equal(a[1])) << "each image gets its own crop";
  EXPECT_GT((a - batch).abs().max().item<double>(), 0.1);
}

TEST(GarmentAugment, FlipAndIdentityAreExact) {
  auto img = torch::rand({2, 3, 16, 24}, at::make_generator<at::CPUGeneratorImpl>(4));
  GarmentAugment none;
  none.min_area = 1.0;
  none.max_aspect = 1.0;
  none.max_translate = 0.0;
  none.flip = 0.0;
  auto same = augment_garments(img, at::make_generator<at::CPUGeneratorImpl>(5), none);
  EXPECT_LT((same - img).abs().max().item<double>(), 1e-5);
  GarmentAugment flip = none;
  flip.flip = 1.0;
  auto mirrored = augment_garments(img, at::make_generator<at::CPUGeneratorImpl>(5), flip);
  EXPECT_LT((mirrored - img.flip({3})).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace couture
