// The text tower: Hugging Face RobertaModel's layout (names, parameter counts), position ids and padding.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "models/roberta.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

RobertaConfig tiny() {
  RobertaConfig c;
  c.vocab_size = 50;
  c.hidden = 32;
  c.layers = 2;
  c.heads = 4;
  c.intermediate = 64;
  c.max_position_embeddings = 20;
  return c;
}

TEST(Roberta, BaseParameterCountEqualsHuggingFace) {
  // FacebookAI/roberta-base (vocab 50265) with its pooler: 124,645,632 parameters in Hugging Face.
  RobertaConfig c = RobertaConfig::base();
  c.vocab_size = 50265;
  c.pooler = true;
  EXPECT_EQ(parameter_count(*RobertaModel(c)), 124'645'632);
  // klue/roberta-base (vocab 32000), the KoCLIP text tower: 18,265 fewer rows of 768, and the pooler's 590,592.
  EXPECT_EQ(parameter_count(*RobertaModel(RobertaConfig::base())), 124'645'632 - 18'265 * 768 - 590'592);
}

TEST(Roberta, StateDictKeysFollowHuggingFace) {
  RobertaConfig c = tiny();
  c.pooler = true;
  std::map<std::string, std::vector<int64_t>> s;
  for (const auto& [name, t] : state_dict(*RobertaModel(c))) s[name] = t.sizes().vec();
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"embeddings.word_embeddings.weight", {50, 32}},
      {"embeddings.position_embeddings.weight", {20, 32}},
      {"embeddings.token_type_embeddings.weight", {1, 32}},
      {"embeddings.LayerNorm.weight", {32}},
      {"embeddings.LayerNorm.bias", {32}},
      {"encoder.layer.0.attention.self.query.weight", {32, 32}},
      {"encoder.layer.0.attention.self.key.bias", {32}},
      {"encoder.layer.0.attention.self.value.weight", {32, 32}},
      {"encoder.layer.0.attention.output.dense.weight", {32, 32}},
      {"encoder.layer.0.attention.output.LayerNorm.weight", {32}},
      {"encoder.layer.1.intermediate.dense.weight", {64, 32}},
      {"encoder.layer.1.output.dense.weight", {32, 64}},
      {"encoder.layer.1.output.LayerNorm.bias", {32}},
      {"pooler.dense.weight", {32, 32}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(s.count(name)) << "missing " << name;
    EXPECT_EQ(s[name], shape) << name;
  }
  // 5 embedding tensors, 16 per layer, 2 for the pooler; dropout adds nothing.
  EXPECT_EQ(s.size(), 5u + 16u * 2 + 2);
  c.pooler = false;
  EXPECT_EQ(state_dict(*RobertaModel(c)).size(), 5u + 16u * 2);
}

TEST(Roberta, PositionIdsStartAfterThePadIdAndSkipPadding) {
  // klue: [CLS]=0, [PAD]=1, [SEP]=2. Tokens count from pad_id + 1; pads keep pad_id (a zero embedding row).
  auto ids = torch::tensor({0, 5, 6, 2, 1, 1}, at::kLong).view({1, 6});
  auto expected = torch::tensor({2, 3, 4, 5, 1, 1}, at::kLong).view({1, 6});
  EXPECT_TRUE(roberta_position_ids(ids, 1).equal(expected));
  auto left_padded = torch::tensor({1, 1, 0, 5, 2}, at::kLong).view({1, 5});
  EXPECT_TRUE(roberta_position_ids(left_padded, 1).equal(torch::tensor({1, 1, 2, 3, 4}, at::kLong).view({1, 5})));
}

TEST(Roberta, ClsVectorIgnoresTrailingPadding) {
  // A caption encodes the same alone and in a batch padded to a longer one.
  RobertaModel model(tiny());
  model->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(3));
  model->eval();
  torch::NoGradGuard no_grad;
  auto short_ids = torch::tensor({0, 7, 8, 9, 2}, at::kLong).view({1, 5});
  auto padded = torch::tensor({0, 7, 8, 9, 2, 1, 1, 1}, at::kLong).view({1, 8});
  auto a = model->cls(short_ids), b = model->cls(padded);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{1, 32}));
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
  // An explicit mask gives the same as the one derived from the pad id.
  auto mask = torch::tensor({1, 1, 1, 1, 1, 0, 0, 0}, at::kLong).view({1, 8});
  EXPECT_LT((model->cls(padded, mask) - b).abs().max().item<double>(), 1e-6);
  // Content matters: another token changes the vector.
  auto other = torch::tensor({0, 7, 8, 10, 2}, at::kLong).view({1, 5});
  EXPECT_GT((model->cls(other) - a).abs().max().item<double>(), 1e-3);
  auto hidden = model->forward(padded);
  EXPECT_EQ(hidden.sizes(), (std::vector<int64_t>{1, 8, 32}));
}

TEST(Roberta, InitFollowsHuggingFace) {
  RobertaModel model(tiny());
  model->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(4));
  const auto& words = model->embeddings->word_embeddings->weight;
  EXPECT_TRUE(words[1].eq(0).all().item<bool>()) << "padding row is zero";
  EXPECT_NEAR(words.std().item<double>(), 0.02, 0.003);
  EXPECT_TRUE(model->embeddings->LayerNorm->weight.eq(1).all().item<bool>());
}

TEST(Roberta, RejectsBadInputWithAClearMessage) {
  RobertaModel model(tiny());
  auto too_long = torch::zeros({1, 19}, at::kLong);  // 20 positions - pad_id - 1 = 18 tokens at most
  EXPECT_THROW(model->forward(too_long), InputError);
  auto out_of_vocab = torch::tensor({0, 50}, at::kLong).view({1, 2});
  try {
    model->forward(out_of_vocab);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("token id 50"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model->forward(torch::zeros({2, 3, 4}, at::kLong)), InputError);
  EXPECT_THROW(model->forward(torch::zeros({1, 4}, at::kLong), torch::ones({1, 5})), InputError);
}

TEST(Roberta, LoadsATextEncoderFileAndReadsItsSizes) {
  // What `couture text import --encoder` writes: embeddings.* and encoder.layer.*, no pooler.
  testing::TempDir dir;
  RobertaConfig c = tiny();
  c.hidden = 64;
  c.intermediate = 96;
  RobertaModel source(c);
  source->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(8));
  save_tensors(dir / "encoder.safetensors", state_dict(*source));
  auto file = SafetensorsFile::open(dir / "encoder.safetensors");

  RobertaConfig read = roberta_config_from(file);
  EXPECT_EQ(read.vocab_size, 50);
  EXPECT_EQ(read.hidden, 64);
  EXPECT_EQ(read.layers, 2);
  EXPECT_EQ(read.heads, 1);  // hidden / 64
  EXPECT_EQ(read.intermediate, 96);
  EXPECT_EQ(read.max_position_embeddings, 20);
  EXPECT_FALSE(read.pooler);

  read.heads = 4;
  read.pooler = true;  // KoCLIP's tower keeps a pooler; the file has none, so it stays initialised
  RobertaModel target(read);
  load_roberta_weights(*target, file);
  source->eval();
  target->eval();
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor({0, 4, 9, 2, 1}, at::kLong).view({1, 5});
  EXPECT_TRUE(source->forward(ids).equal(target->forward(ids)));

  RobertaConfig deeper = read;
  deeper.layers = 3;
  RobertaModel wrong(deeper);
  try {
    load_roberta_weights(*wrong, file);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.2."), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace couture
