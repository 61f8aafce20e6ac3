// The decoder's precision with --bf16 (LoadParams::decoder): chosen, reported by describe(), the same designs up to
// bf16's rounding of the pictures, and a bad value refused.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "generate/generator.h"
#include "support/temp_dir.h"
#include "support/tiny_bundle.h"

namespace couture {
namespace {

TEST(GenerateDecoderPrecision, ChosenReportedAndTheSameDesigns) {
  testing::TempDir dir;
  const auto bundle = testing::make_tiny_bundle(dir.path() / "made");
  EXPECT_THROW(load_generator({.model_dir = bundle, .bf16 = true, .decoder = "fp16"}), InputError);
  auto bf16 = load_generator({.model_dir = bundle, .bf16 = true, .decoder = "bf16"});
  auto fp32 = load_generator({.model_dir = bundle, .bf16 = true, .decoder = "fp32"});
  auto automatic = load_generator({.model_dir = bundle, .bf16 = true});
  EXPECT_EQ(bf16->describe().value("decoder", ""), "bf16");
  EXPECT_EQ(fp32->describe().value("decoder", ""), "fp32");
  const std::string chosen = automatic->describe().value("decoder", "");
  EXPECT_TRUE(chosen == "bf16" || chosen == "fp32") << chosen;
  // Without --bf16 the decoder is fp32 whatever is asked.
  EXPECT_EQ(load_generator({.model_dir = bundle, .decoder = "bf16"})->describe().value("decoder", ""), "fp32");
  GenerateParams p;
  p.prompt = "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다.";
  p.n = 4, p.top = 4, p.seed = 5, p.top_k = 16;
  const auto a = bf16->generate(p), b = fp32->generate(p);
  ASSERT_EQ(a.candidates.size(), b.candidates.size());
  // The transformer is the same (bf16 in both): the same codes; the pictures differ by bf16's rounding only.
  double max_diff = 0;
  size_t differing = 0;
  for (const auto& x : a.candidates)
    for (const auto& y : b.candidates) {
      if (x.index != y.index) continue;
      EXPECT_EQ(x.codes, y.codes) << "candidate " << x.index;
      ASSERT_EQ(x.image.pixels.size(), y.image.pixels.size());
      for (size_t i = 0; i < x.image.pixels.size(); ++i) {
        const double d = std::abs(double(x.image.pixels[i]) - double(y.image.pixels[i]));
        max_diff = std::max(max_diff, d);
        differing += d > 0;
      }
    }
  std::printf("bf16 against fp32 decoder: max pixel difference %.0f of 255, %zu pixels differ\n", max_diff, differing);
  EXPECT_LE(max_diff, 16.0);
  EXPECT_GT(differing, 0u) << "the bf16 decoder gave the fp32 pictures exactly: it did not run in bf16";
}

}  // namespace
}  // namespace couture
