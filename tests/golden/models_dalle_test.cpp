// The DALL-E transformer against KoDALLE's own outputs (DALLE_Klue_Roberta on dalle_pytorch 1.1.5), both residual
// layouts: unmasked logits within 1e-4 relative error, loss within 1e-5, greedy codes equal with and without the
// KV cache, and the cached step-by-step logits equal to the full forward's.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "io/safetensors.h"
#include "models/dalle.h"
#include "models/dalle_sampling.h"
#include "nn/tensor_io.h"
#include "support/golden.h"

using namespace couture;
namespace fs = std::filesystem;

namespace {

double relative_error(const at::Tensor& out, const at::Tensor& ref) {
  return (out - ref).norm().item<double>() / ref.norm().item<double>();
}

class DalleGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(DalleGolden, MatchesReference) {
  const fs::path dir = fs::path(COUTURE_SHARED_TESTDATA) / "kodalle";
  const std::string name = GetParam();
  COUTURE_NEED_REFERENCE(fs::exists(dir / (name + "_io.safetensors")),
                         "reference vectors not found in " << dir << " (../shared/testdata is absent)");
  Dalle model = load_dalle((dir / (name + ".safetensors")).string(), (dir / (name + "_config.json")).string());
  auto io = SafetensorsFile::open(dir / (name + "_io.safetensors"));
  auto text = load_tensor(io, "text"), image = load_tensor(io, "image");
  auto ref_logits = load_tensor(io, "logits"), ref_greedy = load_tensor(io, "greedy_image_tokens");
  const double ref_loss = load_tensor(io, "loss").item<double>();
  torch::NoGradGuard no_grad;

  auto logits = model->forward(text, image);
  ASSERT_EQ(logits.sizes(), ref_logits.sizes());
  auto unmasked = ref_logits > -1e38;
  const double logits_error = relative_error(logits.masked_select(unmasked), ref_logits.masked_select(unmasked));
  EXPECT_TRUE(logits.masked_select(unmasked.logical_not()).eq(-std::numeric_limits<float>::max()).all().item<bool>())
      << "masked logits must hold -max float, as the reference's";

  const double loss = model->loss(text, image).loss.item<double>();

  const int64_t T = model->config().text_seq_len;
  auto ref_image_logits = ref_logits.narrow(1, T, image.size(1)).narrow(2, model->config().text_logits(),
                                                                          model->config().num_image_tokens);
  const double cached_error = relative_error(stepwise_image_logits(model, text, image, true), ref_image_logits);
  const double uncached_error = relative_error(stepwise_image_logits(model, text, image, false), ref_image_logits);

  int greedy_cached = 0, greedy_uncached = 0;
  for (int64_t b = 0; b < text.size(0); ++b) {
    SampleParams params;
    params.temperature = 0;
    greedy_cached += sample_codes(model, text[b], params).codes[0].equal(ref_greedy[b]);
    params.use_cache = false;
    greedy_uncached += sample_codes(model, text[b], params).codes[0].equal(ref_greedy[b]);
  }
  std::printf("%s: logits rel err %.3g, loss %.8f vs %.8f (diff %.3g), stepwise logits rel err cached %.3g, "
              "uncached %.3g, greedy rows equal cached %d/%lld, uncached %d/%lld\n",
              name.c_str(), logits_error, loss, ref_loss, std::abs(loss - ref_loss), cached_error, uncached_error,
              greedy_cached, (long long)text.size(0), greedy_uncached, (long long)text.size(0));
  EXPECT_LT(logits_error, 1e-4);
  EXPECT_NEAR(loss, ref_loss, 1e-5);
  EXPECT_LT(cached_error, 1e-4);
  EXPECT_LT(uncached_error, 1e-4);
  EXPECT_EQ(greedy_cached, text.size(0));
  EXPECT_EQ(greedy_uncached, text.size(0));
}

INSTANTIATE_TEST_SUITE_P(Layouts, DalleGolden, ::testing::Values("kodalle_mini_rev", "kodalle_mini_seq"));

}  // namespace
