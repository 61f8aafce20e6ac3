// The image tower: timm's efficientnet_b0 layout (names, shapes, parameter counts) and its behaviour.
#include <gtest/gtest.h>

#include <map>

#include "models/efficientnet.h"
#include "nn/tensor_io.h"

namespace couture {
namespace {

std::map<std::string, std::vector<int64_t>> shapes(const torch::nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, t] : state_dict(m)) out[name] = t.sizes().vec();
  return out;
}

TEST(EfficientNet, B0FeatureExtractorHasTimmsParameterCount) {
  // timm efficientnet_b0: 5,288,548 parameters, of which the 1000-class classifier is 1280 * 1000 + 1000.
  EfficientNet b0;
  EXPECT_EQ(parameter_count(*b0), 5'288'548 - 1'281'000);
  EXPECT_EQ(b0->num_features(), 1280);
}

TEST(EfficientNet, WidthAndDepthScalingMatchPublishedB1ToB3) {
  // Published totals (timm / torchvision) less each classifier (num_features * 1000 + 1000).
  struct Case {
    double width, depth;
    int64_t total, features;
  };
  for (const auto& c : {Case{1.0, 1.1, 7'794'184, 1280}, Case{1.1, 1.2, 9'109'994, 1408},
                        Case{1.2, 1.4, 12'233'232, 1536}}) {
    EfficientNetConfig config;
    config.width_multiplier = c.width;
    config.depth_multiplier = c.depth;
    EfficientNet net(config);
    EXPECT_EQ(net->num_features(), c.features) << "width " << c.width;
    EXPECT_EQ(parameter_count(*net), c.total - (c.features * 1000 + 1000)) << "width " << c.width;
  }
}

TEST(EfficientNet, StateDictKeysFollowTimm) {
  auto s = shapes(*EfficientNet());
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"conv_stem.weight", {32, 3, 3, 3}},
      {"bn1.running_var", {32}},
      {"bn1.num_batches_tracked", {}},
      // Stage 0 is a DepthwiseSeparableConv: conv_dw, bn1, se, conv_pw, bn2.
      {"blocks.0.0.conv_dw.weight", {32, 1, 3, 3}},
      {"blocks.0.0.bn1.weight", {32}},
      {"blocks.0.0.se.conv_reduce.weight", {8, 32, 1, 1}},
      {"blocks.0.0.se.conv_reduce.bias", {8}},
      {"blocks.0.0.se.conv_expand.weight", {32, 8, 1, 1}},
      {"blocks.0.0.conv_pw.weight", {16, 32, 1, 1}},
      {"blocks.0.0.bn2.running_mean", {16}},
      // Later stages are InvertedResiduals; SE reduces to a quarter of the block's input channels.
      {"blocks.1.0.conv_pw.weight", {96, 16, 1, 1}},
      {"blocks.1.0.bn1.weight", {96}},
      {"blocks.1.0.conv_dw.weight", {96, 1, 3, 3}},
      {"blocks.1.0.bn2.bias", {96}},
      {"blocks.1.0.se.conv_reduce.weight", {4, 96, 1, 1}},
      {"blocks.1.0.conv_pwl.weight", {24, 96, 1, 1}},
      {"blocks.1.0.bn3.weight", {24}},
      {"blocks.2.1.conv_dw.weight", {240, 1, 5, 5}},
      {"blocks.5.3.se.conv_expand.weight", {1152, 48, 1, 1}},
      {"blocks.6.0.conv_pwl.weight", {320, 1152, 1, 1}},
      {"conv_head.weight", {1280, 320, 1, 1}},
      {"bn2.weight", {1280}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(s.count(name)) << "missing " << name;
    EXPECT_EQ(s[name], shape) << name;
  }
  EXPECT_FALSE(s.count("blocks.0.0.conv_pwl.weight"));  // no expansion in stage 0
  EXPECT_FALSE(s.count("blocks.6.1.conv_pw.weight"));   // stage 6 has one block
  EXPECT_FALSE(s.count("classifier.weight"));          // num_classes=0, as KoCLIP
  // 16 blocks in stages of 1, 2, 2, 3, 3, 4, 1.
  const auto layout = efficientnet_layout({});
  std::vector<size_t> repeats;
  for (const auto& stage : layout.stages) repeats.push_back(stage.size());
  EXPECT_EQ(repeats, (std::vector<size_t>{1, 2, 2, 3, 3, 4, 1}));
}

TEST(EfficientNet, PoolsTo1280FeaturesAtStride32) {
  EfficientNet net;
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::rand({2, 3, 224, 224});
  EXPECT_EQ(net->forward_features(x).sizes(), (std::vector<int64_t>{2, 1280, 7, 7}));
  auto f = net->forward(x);
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{2, 1280}));
  EXPECT_TRUE(f.isfinite().all().item<bool>());
  // Symmetric k//2 padding keeps odd sizes working (timm's get_padding, not TF-same).
  EXPECT_EQ(net->forward_features(torch::rand({1, 3, 65, 65})).sizes(), (std::vector<int64_t>{1, 1280, 3, 3}));
}

TEST(EfficientNet, SmallVariantForFmnist) {
  EfficientNetConfig config;
  config.width_multiplier = 0.5;
  config.depth_multiplier = 0.5;
  EfficientNet net(config);
  const auto& layout = net->layout();
  EXPECT_EQ(layout.stem_channels, 16);
  EXPECT_EQ(layout.head_channels, 640);
  int64_t blocks = 0;
  for (const auto& stage : layout.stages) blocks += int64_t(stage.size());
  EXPECT_EQ(blocks, 1 + 1 + 1 + 2 + 2 + 2 + 1);  // ceil(repeats / 2)
  net->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(net->forward(torch::rand({3, 3, 64, 64})).sizes(), (std::vector<int64_t>{3, 640}));
}

TEST(EfficientNet, DropPathOnlyInTrainingAndReproducible) {
  EfficientNetConfig config;
  config.width_multiplier = 0.25;
  config.depth_multiplier = 0.5;
  config.drop_path_rate = 0.5;
  const auto layout = efficientnet_layout(config);
  EXPECT_DOUBLE_EQ(layout.stages[0][0].drop_path, 0.0);  // rate * block index / block count
  EXPECT_GT(layout.stages.back().back().drop_path, 0.4);

  EfficientNet net(config);
  net->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(1));
  auto x = torch::rand({4, 3, 32, 32}, at::make_generator<at::CPUGeneratorImpl>(2));
  torch::NoGradGuard no_grad;
  net->train();
  auto run = [&](uint64_t seed) {
    net->set_generator(at::make_generator<at::CPUGeneratorImpl>(seed));
    // forward_features: the pooled vector alone hides less of the drop pattern.
    return net->forward_features(x);
  };
  auto a = run(7), b = run(7), c = run(8);
  EXPECT_TRUE(a.equal(b)) << "same generator seed, same drop pattern";
  EXPECT_FALSE(a.equal(c)) << "another seed drops other blocks";

  // Eval: BN running statistics and no drop path, so the generator does not matter.
  net->eval();
  auto e1 = run(7), e2 = run(8);
  EXPECT_TRUE(e1.equal(e2));

  auto ones = torch::ones({1000, 1, 1, 1});
  auto dropped = drop_path(ones, 0.25, true, at::make_generator<at::CPUGeneratorImpl>(3));
  const double kept = dropped.ne(0).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 0.75, 0.05);
  EXPECT_NEAR(dropped.mean().item<double>(), 1.0, 0.08) << "survivors are scaled by 1 / keep";
  EXPECT_TRUE(drop_path(ones, 0.25, false, c10::nullopt).equal(ones));
}

TEST(EfficientNet, GoogleInitIsSeededAndScaledByFanOut) {
  EfficientNet a, b;
  a->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(5));
  b->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(5));
  EXPECT_TRUE(a->conv_head->weight.equal(b->conv_head->weight));
  // conv_head: fan_out = 1 * 1 * 1280, so std = sqrt(2 / 1280).
  EXPECT_NEAR(a->conv_head->weight.std().item<double>(), std::sqrt(2.0 / 1280), 0.002);
  EXPECT_TRUE(a->bn2->weight.eq(1).all().item<bool>());
}

}  // namespace
}  // namespace couture
