// `couture text import`: a small RoBERTa-shaped checkpoint written here becomes the DALL-E's text_emb and
// text_pos_emb (and, with --encoder, the whole text encoder), with or without the roberta./bert. key prefix;
// shapes that disagree with the vocabulary, the config or the options are refused with one clear line.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "io/safetensors.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::testing::run_command;
using couture::testing::TempDir;

namespace {

const std::string kBin = COUTURE_BINARY;
constexpr int64_t kVocab = 8, kPositions = 12, kDim = 4;

struct FakeTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

FakeTensor make(const std::string& name, std::vector<int64_t> shape, float base) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  FakeTensor t{name, shape, std::vector<float>(size_t(n))};
  for (int64_t i = 0; i < n; ++i) t.values[size_t(i)] = base + 0.01f * float(i);
  return t;
}

// A RoBERTa-shaped checkpoint: embeddings, one encoder layer, an LM head (which import leaves out).
void write_model(const std::filesystem::path& path, const std::string& prefix, int64_t vocab_rows = kVocab) {
  std::vector<FakeTensor> tensors = {
      make(prefix + "embeddings.word_embeddings.weight", {vocab_rows, kDim}, 1.0f),
      make(prefix + "embeddings.position_embeddings.weight", {kPositions, kDim}, 2.0f),
      make(prefix + "embeddings.token_type_embeddings.weight", {1, kDim}, 3.0f),
      make(prefix + "embeddings.LayerNorm.weight", {kDim}, 4.0f),
      make(prefix + "embeddings.LayerNorm.bias", {kDim}, 5.0f),
      make(prefix + "encoder.layer.0.attention.self.query.weight", {kDim, kDim}, 6.0f),
      make(prefix + "encoder.layer.0.output.dense.bias", {kDim}, 7.0f),
      make("lm_head.dense.weight", {kDim, kDim}, 8.0f),
  };
  std::vector<couture::TensorView> views;
  for (const auto& t : tensors) {
    views.push_back({t.name, couture::DType::F32, t.shape, reinterpret_cast<const uint8_t*>(t.values.data()),
                     t.values.size() * sizeof(float)});
  }
  couture::write_safetensors(path, views);
}

void write_vocab(const std::filesystem::path& path) {
  std::ofstream(path) << "[CLS]\n[PAD]\n[SEP]\n[UNK]\n[MASK]\n상의\n##에서\n.\n";
}

std::vector<float> floats(const couture::TensorView& t) {
  std::vector<float> v(t.nbytes / sizeof(float));
  std::memcpy(v.data(), t.data, t.nbytes);
  return v;
}

std::string import_cmd(const TempDir& dir, const std::string& extra = "", int text_seq_len = 8) {
  return kBin + " text import --from " + (dir / "model.safetensors").string() + " --vocab " +
         (dir / "vocab.txt").string() + " --out " + (dir / "text_init.safetensors").string() +
         " --text-seq-len " + std::to_string(text_seq_len) + " " + extra;
}

TEST(CliTextImport, WritesTextEmbeddingsForEveryPrefix) {
  for (const std::string prefix : {"roberta.", "bert.", ""}) {
    TempDir dir;
    write_model(dir / "model.safetensors", prefix);
    write_vocab(dir / "vocab.txt");
    auto r = run_command(import_cmd(dir));
    ASSERT_EQ(r.status, 0) << r.output;
    const auto out = couture::SafetensorsFile::open(dir / "text_init.safetensors");
    ASSERT_EQ(out.tensors().size(), 2u);
    const auto& emb = out.at("text_emb.weight");
    EXPECT_EQ(emb.shape, (std::vector<int64_t>{kVocab, kDim}));  // vocabulary rows, as KoDALLE's text_emb
    EXPECT_FLOAT_EQ(floats(emb)[5], 1.05f);
    const auto& pos = out.at("text_pos_emb.weight");
    EXPECT_EQ(pos.shape, (std::vector<int64_t>{kPositions, kDim}));
    EXPECT_FLOAT_EQ(floats(pos)[3], 2.03f);
    EXPECT_EQ(out.metadata().at("vocab_size"), "8");
    EXPECT_EQ(out.metadata().at("format"), "couture-text-init");
  }
}

TEST(CliTextImport, EncoderOptionWritesTheWholeEncoderWithoutPrefix) {
  TempDir dir;
  write_model(dir / "model.safetensors", "roberta.");
  write_vocab(dir / "vocab.txt");
  auto r = run_command(import_cmd(dir, "--position-rows 9 --encoder " + (dir / "encoder.safetensors").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto enc = couture::SafetensorsFile::open(dir / "encoder.safetensors");
  std::vector<std::string> names;
  for (const auto& t : enc.tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight",
                       "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
                       "embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                       "encoder.layer.0.output.dense.bias"}));  // no lm_head, prefix stripped
  const auto out = couture::SafetensorsFile::open(dir / "text_init.safetensors");
  EXPECT_EQ(out.at("text_pos_emb.weight").shape, (std::vector<int64_t>{9, kDim}));  // --position-rows
}

TEST(CliTextImport, ShapeMismatchesAreRefusedClearly) {
  TempDir dir;
  write_vocab(dir / "vocab.txt");
  auto expect_error = [&](const std::string& extra, const std::string& message, int text_seq_len = 8) {
    auto r = run_command(import_cmd(dir, extra, text_seq_len));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(r.output.rfind("couture: error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
  };
  write_model(dir / "model.safetensors", "roberta.", 9);
  expect_error("", "roberta.embeddings.word_embeddings.weight has 9 rows, but the vocabulary");

  write_model(dir / "model.safetensors", "roberta.");
  expect_error("--dim 16", "the embeddings are 4 wide, but --dim asks for 16");
  expect_error("", "has 12 rows, fewer than text_seq_len + 1 = 13", 12);
  expect_error("--position-rows 5", "--position-rows 5 must lie in 9..12");

  std::ofstream(dir / "config.json") << R"({"vocab_size": 8, "hidden_size": 4, "max_position_embeddings": 514})";
  expect_error("", "max_position_embeddings is 514 but the checkpoint's tensors say 12");
  std::ofstream(dir / "config.json") << R"({"vocab_size": 8, "hidden_size": 4, "max_position_embeddings": 12})";
  EXPECT_EQ(run_command(import_cmd(dir)).status, 0);

  couture::write_safetensors(dir / "model.safetensors", {});
  expect_error("", "has no embeddings.word_embeddings.weight");
}

}  // namespace
