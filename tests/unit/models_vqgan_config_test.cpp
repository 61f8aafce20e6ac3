// VQGanConfig: presets, JSON round trip, taming's nested layout, and refusals that name the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/vqgan.h"

namespace couture {
namespace {

std::string error_of(const nlohmann::json& j) {
  try {
    VQGanConfig::from_json(j, "test.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(VQGanConfig, KodallePresetIsTheOriginal) {
  auto c = VQGanConfig::preset("kodalle");
  EXPECT_EQ(c.resolution, 256);
  EXPECT_EQ(c.downsample_factor(), 16);
  EXPECT_EQ(c.grid_size(), 16);
  EXPECT_EQ(c.n_embed, 16384);
  EXPECT_EQ(c.embed_dim, 256);
  EXPECT_EQ(c.ch, 128);
  EXPECT_EQ(c.ch_mult, (std::vector<int64_t>{1, 1, 2, 2, 4}));
  EXPECT_EQ(c.attn_resolutions, (std::vector<int64_t>{16}));
}

TEST(VQGanConfig, FmnistPresetIs64PixelsF8) {
  auto c = VQGanConfig::preset("fmnist");
  EXPECT_EQ(c.resolution, 64);
  EXPECT_EQ(c.grid_size(), 8);
  EXPECT_THROW(VQGanConfig::preset("imagenet"), InputError);
}

TEST(VQGanConfig, JsonRoundTripKeepsEveryField) {
  auto c = VQGanConfig::fmnist();
  c.dropout = 0.1;
  c.beta = 0.5;
  c.l2_normalize = true;
  auto back = VQGanConfig::from_json(nlohmann::json::parse(c.to_json().dump()), "round trip");
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.ch_mult, c.ch_mult);
  EXPECT_DOUBLE_EQ(back.beta, 0.5);
  EXPECT_TRUE(back.l2_normalize);
  // taming's own configs never carry the extension: the key is written only when set.
  EXPECT_FALSE(VQGanConfig::kodalle().to_json().contains("l2_normalize"));
}

TEST(VQGanConfig, ReadsTamingsModelParams) {
  auto j = nlohmann::json::parse(R"({"model": {"target": "taming.models.vqgan.VQModel", "params": {
      "embed_dim": 256, "n_embed": 1024, "lossconfig": {"target": "x"},
      "ddconfig": {"double_z": false, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3,
                   "ch": 128, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16],
                   "dropout": 0.0}}}})");
  auto c = VQGanConfig::from_json(j, "taming.json");
  EXPECT_EQ(c.n_embed, 1024);
  EXPECT_EQ(c.z_channels, 256);
  EXPECT_EQ(c.grid_size(), 16);
}

TEST(VQGanConfig, RefusalsNameTheField) {
  EXPECT_NE(error_of({{"chmult", {1, 2}}}).find("'chmult' is unknown"), std::string::npos);
  EXPECT_NE(error_of({{"ch", "wide"}}).find("field 'ch' has the wrong type"), std::string::npos);
  EXPECT_NE(error_of({{"ch", 48}}).find("multiple of 32"), std::string::npos);
  EXPECT_NE(error_of({{"double_z", true}}).find("double_z"), std::string::npos);
  EXPECT_NE(error_of({{"resolution", 100}}).find("not divisible"), std::string::npos);
  EXPECT_NE(error_of({{"n_embed", 0}}).find("'n_embed' must be positive"), std::string::npos);
}

}  // namespace
}  // namespace couture
