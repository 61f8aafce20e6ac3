// taming's blocks as the VQGAN uses them: the evaluation-time upsampling (2x2 phase convs) equals nearest-2x + 3x3
// conv, in both memory layouts; GroupNorm stays accurate in BF16 channels-last; the attention block is taming's.
#include <gtest/gtest.h>

#include "nn/taming_blocks.h"
#include "nn/taming_group_norm.h"

namespace couture {
namespace {

double relative_error(const at::Tensor& out, const at::Tensor& ref) {
  return ((out.to(torch::kFloat) - ref.to(torch::kFloat)).norm() / ref.to(torch::kFloat).norm()).item<double>();
}

TEST(TamingBlocks, EvaluationUpsamplingEqualsNearestThenConv) {
  torch::manual_seed(2);
  Upsample up(32);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 32, 5, 7});
  up->train();
  auto reference = up(x);
  up->eval();
  auto fast = up(x);
  ASSERT_EQ(fast.sizes(), (std::vector<int64_t>{2, 32, 10, 14}));
  EXPECT_LT(relative_error(fast, reference), 1e-6);
  auto fast_cl = up(x.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(fast_cl.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_LT(relative_error(fast_cl, reference), 1e-6);
  // The derived kernel follows weight updates.
  up->conv->weight.mul_(-0.5);
  up->train();
  auto updated = up(x);
  up->eval();
  EXPECT_LT(relative_error(up(x), updated), 1e-6);
}

TEST(TamingBlocks, DownsamplePadsRightAndBottom) {
  Downsample down(32);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 32, 8, 8});
  auto expected = torch::conv2d(torch::constant_pad_nd(x, {0, 1, 0, 1}), down->conv->weight, down->conv->bias, 2);
  EXPECT_TRUE(torch::allclose(down(x), expected));
  EXPECT_EQ(down(x).sizes(), (std::vector<int64_t>{1, 32, 4, 4}));
}

TEST(TamingBlocks, GroupNormStaysAccurateInBF16ChannelsLast) {
  auto norm = taming_group_norm(64);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 64, 64, 64}) * 3 + 1;
  auto reference = norm(x);
  norm->to(torch::kBFloat16);
  auto out = group_norm(norm, x.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  EXPECT_LT(relative_error(out, reference), 1e-2);
}

TEST(TamingBlocks, FusedGroupNormMatchesLibTorchInEveryTypeAndLayout) {
  torch::manual_seed(6);
  auto weight = torch::randn({64}), bias = torch::randn({64});
  // An offset far from zero and odd sizes: the statistics must not lose precision, the spans must cover all.
  for (auto shape : {std::vector<int64_t>{2, 64, 5, 7}, std::vector<int64_t>{1, 64, 96, 96}}) {
    auto x = torch::randn(shape) * 0.5 + 20.0;
    auto reference = torch::group_norm(x, 32, weight, bias, 1e-6);
    auto reference_silu = torch::silu(reference);
    for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
      for (auto layout : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
        auto input = x.to(dtype).contiguous(layout);
        ASSERT_TRUE(fused_group_norm_supports(input, 32));
        auto out = fused_group_norm(input, 32, weight, bias, 1e-6, /*silu=*/false);
        auto out_silu = fused_group_norm(input, 32, weight, bias, 1e-6, /*silu=*/true);
        EXPECT_EQ(out.scalar_type(), dtype);
        EXPECT_TRUE(out.is_contiguous(layout));
        if (dtype == torch::kFloat) {
          EXPECT_LT(relative_error(out, reference), 1e-5) << shape << " " << layout;
          EXPECT_LT(relative_error(out_silu, reference_silu), 1e-5) << shape << " " << layout;
        } else {
          // Against LibTorch on the same BF16-rounded input (at x ~ 20, rounding to BF16 moves x by 0.06).
          auto rounded = torch::group_norm(input.to(torch::kFloat), 32, weight, bias, 1e-6);
          EXPECT_LT(relative_error(out, rounded), 1e-2) << shape << " " << layout;
          EXPECT_LT(relative_error(out_silu, torch::silu(rounded)), 1e-2) << shape << " " << layout;
        }
      }
    }
  }
  EXPECT_FALSE(fused_group_norm_supports(torch::zeros({2, 30, 4, 4}), 32));
  EXPECT_FALSE(fused_group_norm_supports(torch::zeros({2, 64, 4, 4}, torch::kDouble), 32));
}

TEST(TamingBlocks, AttentionIsSingleHeadOverPositions) {
  torch::manual_seed(4);
  AttnBlock attn(32);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 32, 3, 3});
  auto h = attn->norm(x).view({32, 9});
  auto conv1x1 = [&](const torch::nn::Conv2d& c) { return c->weight.view({32, 32}).matmul(h) + c->bias.view({32, 1}); };
  auto q = conv1x1(attn->q), k = conv1x1(attn->k), v = conv1x1(attn->v);
  auto weights = torch::softmax(q.t().matmul(k) / std::sqrt(32.0), 1);  // [query, key]
  auto mixed = v.matmul(weights.t());
  auto expected = x + (attn->proj_out->weight.view({32, 32}).matmul(mixed) + attn->proj_out->bias.view({32, 1})).view({1, 32, 3, 3});
  EXPECT_LT(relative_error(attn(x), expected), 1e-5);
}

}  // namespace
}  // namespace couture
