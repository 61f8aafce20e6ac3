// The DALL-E model's contract with checkpoints: the presets' exact sizes and key names, configs as KoDALLE saves
// them for both known layouts, sizes read off the tensors, and clear refusals.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/dalle.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "support/temp_dir.h"

using namespace couture;
using nlohmann::json;

namespace {

std::map<std::string, std::vector<int64_t>> shapes(DalleImpl& model) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, t] : state_dict(model)) out[name] = t.sizes().vec();
  return out;
}

DalleConfig tiny(bool reversible) {
  DalleConfig c = DalleConfig::preset("fmnist");
  c.num_text_tokens = 40, c.text_seq_len = 6, c.text_pos_len = 12, c.dim = 32, c.depth = 2, c.heads = 2;
  c.dim_head = 8, c.image_fmap_size = 3, c.num_image_tokens = 20, c.reversible = reversible;
  return c;
}

TEST(DalleConfig, KodallePresetHasTheReleasedModelsSizeAndKeys) {
  Dalle model(DalleConfig::preset("kodalle"), at::kBFloat16);  // bf16 storage: half the memory, same count
  EXPECT_EQ(model->parameter_count(), 334908736);
  auto s = shapes(*model);
  EXPECT_EQ(s.size(), 5u + 16u * 13u + 4u);
  EXPECT_EQ(s.at("text_emb.weight"), (std::vector<int64_t>{32000, 1024}));
  EXPECT_EQ(s.at("text_pos_emb.weight"), (std::vector<int64_t>{514, 1024}));
  EXPECT_EQ(s.at("image_pos_emb.weights_0"), (std::vector<int64_t>{1, 16, 1, 1024}));
  EXPECT_EQ(s.at("transformer.layers.blocks.15.f.net.fn.fn.to_qkv.weight"), (std::vector<int64_t>{1536, 1024}));
  EXPECT_EQ(s.at("transformer.layers.blocks.15.g.net.fn.fn.net.0.weight"), (std::vector<int64_t>{8192, 1024}));
  EXPECT_EQ(s.at("transformer.layers.blocks.0.g.net.scale"), (std::vector<int64_t>{1, 1, 1024}));
  EXPECT_EQ(s.at("to_logits.1.weight"), (std::vector<int64_t>{32000 + 64 + 16384, 1024}));
}

TEST(DalleConfig, OlderSequentialLayoutHasItsKeys) {
  Dalle model(DalleConfig::preset("kodalle_v1_seq"), at::kBFloat16);
  // 12 blocks of 16,793,600 (16 heads x 64 = 1024 inner) + embeddings 50,104,320 (32000, 514 and 16384 rows,
  // axial 2 x 16) + to_logits 49,726,848 (32000 + 128 + 16384 logits).
  EXPECT_EQ(model->parameter_count(), 301354368);
  auto s = shapes(*model);
  EXPECT_EQ(s.at("transformer.layers.layers.11.0.fn.fn.to_qkv.weight"), (std::vector<int64_t>{3072, 1024}));
  EXPECT_EQ(s.at("transformer.layers.layers.11.1.fn.fn.net.3.bias"), (std::vector<int64_t>{1024}));
  EXPECT_EQ(s.at("transformer.layers.layers.0.1.scale"), (std::vector<int64_t>{1, 1, 1024}));
  EXPECT_EQ(s.count("transformer.layers.blocks.0.f.net.scale"), 0u);
}

TEST(DalleConfig, FmnistPresetIsSmall) {
  Dalle model(DalleConfig::preset("fmnist"));
  EXPECT_EQ(model->parameter_count(), 5019936);  // 4 blocks of 1,052,672 + embeddings and logits of 809,248
  EXPECT_EQ(model->config().image_seq_len(), 64);
}

TEST(DalleConfig, ReadsBothKnownKoDALLELayoutsAsSaved) {
  // KoDALLE's saved hparams: no dim and no VQGAN sizes (they come from the language model and the VQGAN).
  json released = {{"num_text_tokens", 32000}, {"text_seq_len", 64},  {"depth", 16},          {"heads", 8},
                   {"dim_head", 64},           {"reversible", true},  {"loss_img_weight", 7}, {"attn_types", "full"},
                   {"ff_dropout", 0.2},        {"attn_dropout", 0.2}, {"stable", false},      {"shift_tokens", nullptr},
                   {"rotary_emb", nullptr}};
  EXPECT_EQ(DalleConfig::from_json(released, "hparams").to_json(), DalleConfig::preset("kodalle").to_json());
  json older = released;
  older["depth"] = 12, older["heads"] = 16, older["text_seq_len"] = 128, older["reversible"] = false;
  EXPECT_EQ(DalleConfig::from_json(older, "hparams").to_json(), DalleConfig::preset("kodalle_v1_seq").to_json());
  for (const auto& name : DalleConfig::preset_names()) {
    auto c = DalleConfig::preset(name);
    EXPECT_EQ(DalleConfig::from_json(c.to_json(), name).to_json(), c.to_json()) << name;
  }
}

TEST(DalleConfig, RefusesWhatItDoesNotImplementNamingTheField) {
  auto message = [](const json& j) {
    try {
      DalleConfig::from_json(j, "cfg.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({{"rotary_emb", true}}).find("rotary_emb"), std::string::npos);
  EXPECT_NE(message({{"attn_types", {"full", "axial_row"}}}).find("attn_types"), std::string::npos);
  EXPECT_NE(message({{"depth", "sixteen"}}).find("'depth'"), std::string::npos);
  EXPECT_NE(message({{"text_seq_len", 600}}).find("text_pos_len"), std::string::npos);
  EXPECT_NE(message({{"mask_padding", true}}).find("text_pad_id"), std::string::npos);
  EXPECT_NE(message(json::array()).find("cfg.json"), std::string::npos);
}

TEST(DalleConfig, SizesMissingFromTheConfigAreReadFromTheTensors) {
  couture::testing::TempDir dir;
  Dalle model(tiny(true));
  json partial = {{"num_text_tokens", 40}, {"text_seq_len", 6}, {"depth", 2}, {"heads", 2}, {"dim_head", 8},
                  {"reversible", true},      {"attn_dropout", 0},    {"ff_dropout", 0}};
  save_tensors(dir / "d.safetensors", state_dict(*model), {{"config", partial.dump()}});
  Dalle loaded = load_dalle((dir / "d.safetensors").string());
  EXPECT_EQ(loaded->config().to_json(), model->config().to_json());
  torch::NoGradGuard no_grad;
  auto text = at::randint(40, {2, 6}, at::kLong), codes = at::randint(20, {2, 9}, at::kLong);
  EXPECT_TRUE(loaded->forward(text, codes).equal(model->forward(text, codes)));
}

TEST(DalleConfig, TextEmbeddingsStartFromAnImportedLanguageModel) {
  couture::testing::TempDir dir;
  Dalle model(tiny(true));
  auto words = at::randn({40, 32}), positions = at::randn({20, 32});  // more position rows than the model's 12
  save_tensors(dir / "text.safetensors", {{"text_emb.weight", words}, {"text_pos_emb.weight", positions}});
  init_text_embeddings(*model, SafetensorsFile::open(dir / "text.safetensors"));
  EXPECT_TRUE(model->text_emb->weight.equal(words));
  EXPECT_TRUE(model->text_pos_emb->weight.equal(positions.narrow(0, 0, 12)));
  save_tensors(dir / "bad.safetensors", {{"text_emb.weight", at::randn({41, 32})}, {"text_pos_emb.weight", positions}});
  try {
    init_text_embeddings(*model, SafetensorsFile::open(dir / "bad.safetensors"));
    FAIL() << "a 41-word table was taken for a 40-word vocabulary";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("text_emb.weight"), std::string::npos) << e.what();
  }
}

TEST(DalleConfig, LoadingTheOtherLayoutNamesTheMissingTensor) {
  couture::testing::TempDir dir;
  Dalle sequential(tiny(false));
  save_tensors(dir / "seq.safetensors", state_dict(*sequential), {{"config", tiny(true).to_json().dump()}});
  try {
    load_dalle((dir / "seq.safetensors").string());
    FAIL() << "a sequential checkpoint loaded as reversible";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("transformer.layers.blocks.0.f.net.scale"), std::string::npos) << e.what();
  }
}

}  // namespace
