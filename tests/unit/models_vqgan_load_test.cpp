// Loading VQGAN weights: the full key set and every shape are checked and the offending tensor is named; saved
// files carry their config.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

VQGanConfig tiny() {
  VQGanConfig c;
  c.resolution = 16;
  c.ch = 32;
  c.ch_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attn_resolutions = {8};
  c.z_channels = 8;
  c.embed_dim = 4;
  c.n_embed = 16;
  return c;
}

std::string load_error(const std::filesystem::path& path) {
  try {
    load_vqgan(path, std::nullopt);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(VQGanLoad, SavedWeightsLoadWithTheirConfigAndGiveTheSameImages) {
  testing::TempDir dir;
  torch::manual_seed(1);
  VQModel model(tiny());
  save_vqgan(dir / "v.safetensors", model);
  auto loaded = load_vqgan(dir / "v.safetensors");
  EXPECT_EQ(loaded->config().to_json(), tiny().to_json());
  torch::NoGradGuard no_grad;
  auto x = torch::rand({2, 3, 16, 16}) * 2 - 1;
  EXPECT_TRUE(torch::equal(model->encode(x).indices, loaded->encode(x).indices));
  EXPECT_TRUE(torch::allclose(model->decode_codes(torch::arange(16).view({1, 16}) % 16),
                              loaded->decode_codes(torch::arange(16).view({1, 16}) % 16)));
}

TEST(VQGanLoad, MissingUnexpectedAndMisshapenTensorsAreNamed) {
  testing::TempDir dir;
  VQModel model(tiny());
  auto tensors = state_dict(*model);
  auto meta = vqgan_metadata(tiny());

  NamedTensors missing;
  for (auto& [name, t] : tensors)
    if (name != "decoder.up.1.upsample.conv.weight") missing.emplace_back(name, t);
  save_tensors(dir / "missing.safetensors", missing, meta);
  EXPECT_NE(load_error(dir / "missing.safetensors").find("'decoder.up.1.upsample.conv.weight'"), std::string::npos);

  auto extra = tensors;
  extra.emplace_back("loss.discriminator.main.0.weight", torch::zeros({1}));
  save_tensors(dir / "extra.safetensors", extra, meta);
  EXPECT_NE(load_error(dir / "extra.safetensors").find("unexpected tensor(s): 'loss.discriminator.main.0.weight'"),
            std::string::npos);

  auto wrong = tensors;
  for (auto& [name, t] : wrong)
    if (name == "quantize.embedding.weight") t = torch::zeros({32, 4});
  save_tensors(dir / "wrong.safetensors", wrong, meta);
  auto message = load_error(dir / "wrong.safetensors");
  EXPECT_NE(message.find("tensor 'quantize.embedding.weight' has shape [32,4], expected [16,4]"), std::string::npos)
      << message;
}

TEST(VQGanLoad, WeightsWithoutConfigAskForOne) {
  testing::TempDir dir;
  VQModel model(tiny());
  save_tensors(dir / "bare.safetensors", state_dict(*model));
  EXPECT_NE(load_error(dir / "bare.safetensors").find("--config"), std::string::npos);
  std::ofstream(dir / "bare_config.json") << tiny().to_json().dump();
  EXPECT_NO_THROW(load_vqgan(dir / "bare.safetensors"));
}

TEST(VQGanLoad, CodesOutsideTheCodebookAreRefused) {
  VQModel model(tiny());
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model->decode_codes(torch::full({1, 4}, 16, torch::kLong)), InputError);
  EXPECT_THROW(model->decode_codes(torch::zeros({1, 5}, torch::kLong)), InputError);  // not a square grid
  EXPECT_EQ(model->decode_codes(torch::zeros({1, 2, 4}, torch::kLong)).sizes(), (std::vector<int64_t>{1, 3, 4, 8}));
}

}  // namespace
}  // namespace couture
