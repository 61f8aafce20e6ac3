// End to end, the packed decoding step (issue #23; DalleImpl::pack_for_decoding, on by default) gives exactly the
// designs of the plain path for the same seed: the same codes, the same pictures, the same order and scores.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "generate/generator.h"
#include "support/temp_dir.h"
#include "support/tiny_bundle.h"

namespace couture {
namespace {

TEST(GeneratePacked, SameDesignsAsThePlainPath) {
  testing::TempDir dir;
  const auto bundle = testing::make_tiny_bundle(dir.path() / "made");
  auto packed = load_generator({.model_dir = bundle, .bf16 = false, .packed = true});
  auto plain = load_generator({.model_dir = bundle, .bf16 = false, .packed = false});
  GenerateParams p;
  p.prompt = "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다.";
  p.n = 6, p.top = 2, p.seed = 17, p.top_k = 16, p.cond_scale = 2.0;
  const auto a = packed->generate(p), b = plain->generate(p);
  ASSERT_EQ(a.candidates.size(), b.candidates.size());
  double max_score_diff = 0;
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    const auto &x = a.candidates[i], &y = b.candidates[i];
    EXPECT_EQ(x.index, y.index) << "rank " << i;
    EXPECT_EQ(x.codes, y.codes) << "rank " << i;
    EXPECT_EQ(x.image.pixels, y.image.pixels) << "rank " << i;
    max_score_diff = std::max(max_score_diff, std::abs(x.score - y.score));
  }
  std::printf("max |score packed - plain| %.3g over %zu candidates\n", max_score_diff, a.candidates.size());
  EXPECT_LT(max_score_diff, 1e-6);
}

// int8 weights are an option on the packed path only: reported by describe(), refused without packing.
TEST(GeneratePacked, Int8IsAnOptionOfThePackedPath) {
  testing::TempDir dir;
  const auto bundle = testing::make_tiny_bundle(dir.path() / "made");
  EXPECT_THROW(load_generator({.model_dir = bundle, .packed = false, .int8 = true}), InputError);
  auto int8 = load_generator({.model_dir = bundle, .int8 = true});
  auto plain = load_generator({.model_dir = bundle});
  EXPECT_FALSE(plain->describe().value("int8", true));
  if (!int8->describe().value("int8", false)) GTEST_SKIP() << "no optimised int8 kernel here";
  GenerateParams p;
  p.prompt = "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다.";
  p.n = 6, p.top = 2, p.seed = 17, p.top_k = 16, p.cond_scale = 2.0;
  const auto a = int8->generate(p), b = plain->generate(p);
  ASSERT_EQ(a.candidates.size(), 6u);
  // The same request gives the same designs again (quantisation is deterministic).
  const auto again = int8->generate(p);
  for (size_t i = 0; i < a.candidates.size(); ++i) EXPECT_EQ(a.candidates[i].codes, again.candidates[i].codes);
  size_t same = 0;
  for (size_t i = 0; i < a.candidates.size(); ++i) same += a.candidates[i].codes == b.candidates[i].codes;
  std::printf("int8: %zu of %zu candidates with the fp32 path's codes\n", same, a.candidates.size());
}

}  // namespace
}  // namespace couture
