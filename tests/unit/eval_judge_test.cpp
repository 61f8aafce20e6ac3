// The judge network: the shapes the evaluation relies on, and a config from a file that is checked field by field.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/judge.h"

namespace couture {
namespace {

JudgeConfig small() {
  JudgeConfig c;
  c.widths = {8, 16, 32};
  c.num_categories = 6, c.num_colours = 19, c.num_prints = 5;
  return c;
}

TEST(Judge, FeaturesAndHeads) {
  torch::manual_seed(0);
  JudgeNet net(small());
  net->eval();
  auto x = torch::rand({3, 3, 64, 64}) * 2 - 1;
  auto f = net->features(x);
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{3, 32}));
  auto logits = net->forward(x);
  EXPECT_EQ(logits.category.sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(logits.colour.sizes(), (std::vector<int64_t>{3, 19}));
  EXPECT_EQ(logits.print.sizes(), (std::vector<int64_t>{3, 5}));
  // In eval mode an image's reading does not depend on the rest of the batch (BatchNorm uses running statistics).
  auto alone = net->forward(x.narrow(0, 1, 1));
  const double diff = (alone.colour[0] - logits.colour[1]).abs().max().item<double>();
  std::printf("batch-of-1 vs batch-of-3 max logit difference %.3g\n", diff);
  EXPECT_LT(diff, 1e-5);
}

TEST(Judge, ConfigRoundTripAndChecks) {
  auto c = JudgeConfig::from_json(small().to_json());
  EXPECT_EQ(c.widths, small().widths);
  EXPECT_EQ(c.stem_stride, 2);
  EXPECT_THROW(JudgeConfig::from_json({{"widths", nlohmann::json::array()}}), InputError);
  EXPECT_THROW(JudgeConfig::from_json({{"blocks", 0}}), InputError);
  EXPECT_THROW(JudgeConfig::from_json({{"stem_stride", 3}}), InputError);
  EXPECT_THROW(JudgeConfig::from_json({{"widths", "wide"}}), InputError);
}

}  // namespace
}  // namespace couture
