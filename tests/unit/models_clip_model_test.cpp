// KoCLIP: key names as KoDALLE's clip/clipmodel.py, the two losses, presets, and self-describing model files.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/clip.h"
#include "nn/tensor_io.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

// Small enough for a unit test, same structure as the presets.
ClipConfig tiny(ClipLoss loss = ClipLoss::Clip) {
  ClipConfig c = ClipConfig::preset("fmnist");
  c.image.width_multiplier = 0.25;
  c.image.depth_multiplier = 0.25;
  c.image_size = 32;
  c.text.hidden = 32;
  c.text.heads = 2;
  c.text.intermediate = 64;
  c.set_vocab(40, 1);
  c.projection_dim = 16;
  c.loss = loss;
  return c;
}

TEST(Clip, KodallePresetFollowsKoClipNamesAndSizes) {
  Clip model(ClipConfig::preset("kodalle"));
  std::map<std::string, std::vector<int64_t>> s;
  for (const auto& [name, t] : state_dict(*model)) s[name] = t.sizes().vec();
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"image_encoder.model.conv_stem.weight", {32, 3, 3, 3}},
      {"image_encoder.model.blocks.1.0.se.conv_reduce.weight", {4, 96, 1, 1}},
      {"image_encoder.model.bn2.running_mean", {1280}},
      {"text_encoder.model.embeddings.word_embeddings.weight", {32000, 768}},
      {"text_encoder.model.embeddings.position_embeddings.weight", {514, 768}},
      {"text_encoder.model.encoder.layer.11.output.LayerNorm.weight", {768}},
      {"text_encoder.model.pooler.dense.weight", {768, 768}},  // RobertaModel.from_pretrained keeps its pooler
      {"image_projection.projection.weight", {512, 1280}},
      {"image_projection.projection.bias", {512}},
      {"text_projection.projection.weight", {512, 768}},
      {"logit_scale", {}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(s.count(name)) << "missing " << name;
    EXPECT_EQ(s[name], shape) << name;
  }
  // B0 features 4,007,548 + klue/roberta-base with pooler 110,618,112 + projections + logit_scale.
  EXPECT_EQ(parameter_count(*model), 4'007'548 + 110'618'112 + (1280 * 512 + 512) + (768 * 512 + 512) + 1);
  EXPECT_EQ(model->config().image_size, 224);
  EXPECT_EQ(model->config().loss, ClipLoss::Clip);  // the proper CLIP loss unless --loss kodalle
}

TEST(Clip, KodalleLossHasNoLogitScaleAndScalesDotProductsBy007) {
  Clip original(tiny(ClipLoss::Kodalle));
  for (const auto& [name, t] : state_dict(*original)) EXPECT_NE(name, "logit_scale");
  auto text = torch::tensor({1.0f, 2.0f, 0.0f, -1.0f}).view({2, 2});
  auto image = torch::tensor({3.0f, 1.0f, 0.5f, 4.0f}).view({2, 2});
  auto logits = original->logits(text, image);
  auto expected = torch::tensor({5.0f, 8.5f, -1.0f, -4.0f}).view({2, 2}) * 0.07;
  EXPECT_TRUE(torch::allclose(logits, expected));
  EXPECT_TRUE(torch::allclose(original->similarity(text, image), expected));
}

TEST(Clip, ClipLossUsesCosinesTimesALearnableClampedScale) {
  Clip model(tiny(ClipLoss::Clip));
  EXPECT_NEAR(model->logit_scale.item<double>(), std::log(1 / 0.07), 1e-6);
  auto text = torch::tensor({3.0f, 4.0f, 0.0f, 2.0f}).view({2, 2});
  auto image = torch::tensor({1.0f, 0.0f, 0.0f, -5.0f}).view({2, 2});
  auto cosine = torch::tensor({0.6f, -0.8f, 0.0f, -1.0f}).view({2, 2});
  EXPECT_TRUE(torch::allclose(model->similarity(text, image), cosine, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(model->logits(text, image), cosine / 0.07, 1e-5, 1e-5));
  {
    torch::NoGradGuard no_grad;
    model->logit_scale.fill_(10.0);  // exp(10) > 100: clamped
  }
  EXPECT_TRUE(torch::allclose(model->logits(text, image), cosine * 100.0, 1e-4, 1e-4));
  // The scale is learned: the loss has a gradient for it below the clamp.
  {
    torch::NoGradGuard no_grad;
    model->logit_scale.fill_(1.0);
  }
  auto loss = model->loss(text.requires_grad_(), image);
  loss.backward();
  ASSERT_TRUE(model->logit_scale.grad().defined());
  EXPECT_NE(model->logit_scale.grad().item<double>(), 0.0);
}

TEST(Clip, SymmetricCrossEntropy) {
  EXPECT_NEAR(clip_loss(torch::zeros({4, 4})).item<double>(), std::log(4.0), 1e-6);
  EXPECT_LT(clip_loss(torch::eye(4) * 50).item<double>(), 1e-6);
  auto logits = torch::tensor({2.0f, 0.0f, 1.0f, 3.0f}).view({2, 2});
  // rows (text -> image): CE picks [0][0]=2 of {2,0} and [1][1]=3 of {1,3}; columns: 2 of {2,1}, 3 of {0,3}.
  auto ce = [](double right, double wrong) { return -right + std::log(std::exp(right) + std::exp(wrong)); };
  const double expected = ((ce(2, 0) + ce(3, 1)) / 2 + (ce(2, 1) + ce(3, 0)) / 2) / 2;
  EXPECT_NEAR(clip_loss(logits).item<double>(), expected, 1e-6);
  EXPECT_THROW(clip_loss(torch::zeros({2, 3})), Error);
}

TEST(Clip, FmnistPresetEncodesBothSides) {
  ClipConfig config = ClipConfig::preset("fmnist");
  config.set_vocab(3000, 1);
  Clip model(config);
  model->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(1));
  model->eval();
  torch::NoGradGuard no_grad;
  auto images = model->encode_image(torch::rand({3, 3, 64, 64}) * 2 - 1);
  auto ids = torch::randint(3, 3000, {3, 40}, at::kLong);
  ids.select(1, 0).fill_(0);
  auto texts = model->encode_text(ids);
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{3, 256}));
  EXPECT_EQ(texts.sizes(), (std::vector<int64_t>{3, 256}));
  EXPECT_EQ(model->logits(texts, images).sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(config.text.max_tokens(), 64);
  EXPECT_THROW(ClipConfig::preset("vit"), InputError);
}

TEST(Clip, ModelFilesCarryTheirConfigAndRoundTrip) {
  testing::TempDir dir;
  ClipConfig config = tiny(ClipLoss::Kodalle);
  config.image_mean = {0.1, 0.2, 0.3};
  Clip model(config);
  model->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(9));
  model->eval();
  save_clip(dir / "clip.safetensors", *model);
  Clip loaded = load_clip(dir / "clip.safetensors");
  EXPECT_EQ(loaded->config().to_json(), config.to_json());
  torch::NoGradGuard no_grad;
  auto images = torch::rand({2, 3, 32, 32}) * 2 - 1;
  auto ids = torch::tensor({0, 5, 6, 2, 0, 7, 2, 1}, at::kLong).view({2, 4});
  EXPECT_TRUE(model->encode_image(images).equal(loaded->encode_image(images)));
  EXPECT_TRUE(model->encode_text(ids).equal(loaded->encode_text(ids)));

  // A file whose config says "clip" loss but lacks logit_scale is refused, naming the tensor.
  auto tensors = state_dict(*model);
  ClipConfig with_scale = config;
  with_scale.loss = ClipLoss::Clip;
  save_tensors(dir / "mismatch.safetensors", tensors, clip_metadata(with_scale));
  try {
    load_clip(dir / "mismatch.safetensors");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("logit_scale"), std::string::npos) << e.what();
  }
  // A file without the config is not taken for a CLIP model.
  save_tensors(dir / "bare.safetensors", tensors);
  try {
    load_clip(dir / "bare.safetensors");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bare.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Clip, ConfigJsonNamesTheBadField) {
  auto j = tiny().to_json();
  EXPECT_EQ(ClipConfig::from_json(j).to_json(), j);
  auto bad = j;
  bad["text"]["heads"] = "four";
  try {
    ClipConfig::from_json(bad);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("heads"), std::string::npos) << e.what();
  }
  auto missing = j;
  missing.erase("loss");
  EXPECT_THROW(ClipConfig::from_json(missing), InputError);
  auto loss = j;
  loss["loss"] = "infonce";
  EXPECT_THROW(ClipConfig::from_json(loss), InputError);
}

TEST(Clip, ImagesBecomeBatchesOfTheModelSizeInMinusOneToOne) {
  Image rgb = make_image(2, 2, 3, 0);
  rgb.at(1, 0)[0] = 255;  // top-right red
  Image grey = make_image(2, 2, 1, 51);
  auto t = resize_to_batch({rgb, grey}, 2);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 3, 2, 2}));
  EXPECT_FLOAT_EQ(t[0][0][0][1].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(t[0][1][0][1].item<float>(), -1.0f);
  EXPECT_TRUE(torch::allclose(t[1], torch::full({3, 2, 2}, 51 / 127.5f - 1)));
  Image big = make_image(40, 20, 3, 128);
  auto r = resize_to_batch({big}, 8);
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{1, 3, 8, 8}));
  EXPECT_NEAR(r.mean().item<double>(), 128 / 127.5 - 1, 1e-3);
}

}  // namespace
}  // namespace couture
