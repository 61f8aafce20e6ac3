// DALL-E training as an ML engineer runs it: prepare a small Couture-FMNIST, a tiny VQGAN, a vocab, encode the
// codes once (reused the second time), train a tiny DALL-E and resume it; the run leaves a self-describing
// dalle.safetensors that loads and samples on its own, and bad inputs give one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/dalle.h"
#include "models/dalle_sampling.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::testing::count_lines;
using couture::testing::run_command;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

int count_newlines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

TEST(TrainDalle, EncodeTrainResumeAndLoad) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string bin = COUTURE_BINARY, data = (dir / "data").string();
  auto prep = run_command(bin + " prepare fmnist --limit 40 --size 32 --out " + data);
  ASSERT_EQ(prep.status, 0) << prep.output;

  std::ofstream(dir / "vq.json") << R"({"resolution": 32, "ch": 32, "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1,
      "attn_resolutions": [], "z_channels": 8, "embed_dim": 8, "n_embed": 16})";
  auto vq = run_command(bin + " train vqgan --vqvae --dataset " + data + " --out " + (dir / "vq").string() +
                        " --config " + (dir / "vq.json").string() + " --steps 2 --batch 4");
  ASSERT_EQ(vq.status, 0) << vq.output;
  auto vocab = run_command(bin + " vocab train --dataset " + data + " --size 150 --out " + (dir / "vocab.txt").string());
  ASSERT_EQ(vocab.status, 0) << vocab.output;
  const int vocab_size = count_lines(dir / "vocab.txt");

  const std::string encode = bin + " encode --dataset " + data + " --vqgan " + (dir / "vq").string();
  auto enc = run_command(encode);
  ASSERT_EQ(enc.status, 0) << enc.output;
  EXPECT_NE(enc.output.find("codebook usage"), std::string::npos) << enc.output;
  for (const char* f : {"codes/train.codes", "codes/test.codes", "codes/codes.json"})
    EXPECT_TRUE(fs::exists(dir / "data" / f)) << f;
  auto again_enc = run_command(encode);
  ASSERT_EQ(again_enc.status, 0) << again_enc.output;
  EXPECT_NE(again_enc.output.find("reusing"), std::string::npos) << again_enc.output;

  std::ofstream(dir / "tiny.json") << R"({"num_text_tokens": )" << vocab_size
                                   << R"(, "text_seq_len": 16, "text_pos_len": 17, "dim": 32, "depth": 2,
      "heads": 2, "dim_head": 16, "image_fmap_size": 4, "num_image_tokens": 16, "reversible": false,
      "attn_dropout": 0, "ff_dropout": 0})";
  auto train_with = [&](const fs::path& vocab_file, const fs::path& out) {
    return bin + " train dalle --dataset " + data + " --vqgan " + (dir / "vq").string() + " --vocab " +
           vocab_file.string() + " --config " + (dir / "tiny.json").string() + " --out " + out.string() +
           " --batch 4 --warmup 1 --checkpoint-every 2 --log-every 1";
  };
  const std::string train = train_with(dir / "vocab.txt", dir / "dalle");
  auto first = run_command(train + " --steps 4");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("reusing"), std::string::npos) << first.output;  // codes from `couture encode`
  for (const char* f : {"dalle.safetensors", "vocab.txt", "loss.png", "samples.png", "metrics.jsonl", "run.json",
                        "checkpoints/step-000000004/model.safetensors"})
    EXPECT_TRUE(fs::exists(dir / "dalle" / f)) << f;

  auto second = run_command(train + " --steps 6");
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("resuming from step 4"), std::string::npos) << second.output;
  EXPECT_EQ(count_lines(dir / "dalle/metrics.jsonl"), 6 + 2);  // a line per step, a validation line per run

  auto model = couture::load_dalle((dir / "dalle/dalle.safetensors").string());
  EXPECT_EQ(model->config().num_text_tokens, vocab_size);
  EXPECT_EQ(model->config().image_fmap_size, 4);
  couture::SampleParams params;
  params.n = 2;
  auto result = couture::sample_codes(model, at::zeros({16}, at::kLong), params);
  EXPECT_EQ(result.codes.sizes(), (std::vector<int64_t>{2, 16}));

  // bf16 autocast: same seed and batch, so step 1's loss is the fp32 run's up to bf16 rounding (and not equal:
  // the matmuls did run in bf16); the weights it writes stay fp32.
  auto bf16 = run_command(train_with(dir / "vocab.txt", dir / "dalle-bf16") + " --steps 2 --bf16");
  ASSERT_EQ(bf16.status, 0) << bf16.output;
  auto first_loss = [](const fs::path& metrics) {
    std::ifstream in(metrics);
    std::string line;
    std::getline(in, line);
    return nlohmann::json::parse(line).at("loss").get<double>();
  };
  const double fp32_loss = first_loss(dir / "dalle/metrics.jsonl"), bf16_loss = first_loss(dir / "dalle-bf16/metrics.jsonl");
  std::printf("step-1 loss fp32 %.6f, bf16 autocast %.6f (relative difference %.2g)\n", fp32_loss, bf16_loss,
              std::abs(bf16_loss - fp32_loss) / fp32_loss);
  EXPECT_NE(bf16_loss, fp32_loss) << "--bf16 changed nothing";
  EXPECT_NEAR(bf16_loss, fp32_loss, 0.02 * fp32_loss);
  auto bf16_weights = couture::SafetensorsFile::open(dir / "dalle-bf16/dalle.safetensors");
  for (const auto& t : bf16_weights.tensors()) EXPECT_EQ(t.dtype, couture::DType::F32) << t.name;
  EXPECT_TRUE(nlohmann::json::parse(std::ifstream(dir / "dalle-bf16/run.json"))["settings"]["bf16"].get<bool>());

  auto missing = run_command(train_with(dir / "nope.txt", dir / "d2") + " --steps 1");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(count_newlines(missing.output), 1) << missing.output;
  EXPECT_NE(missing.output.find("nope.txt"), std::string::npos) << missing.output;

  auto other = run_command(bin + " vocab train --dataset " + data + " --size 60 --out " + (dir / "small.txt").string());
  ASSERT_EQ(other.status, 0) << other.output;
  auto mismatch = run_command(train_with(dir / "small.txt", dir / "d2") + " --steps 1");
  EXPECT_EQ(mismatch.status, 1);
  EXPECT_NE(mismatch.output.find("num_text_tokens is " + std::to_string(vocab_size)), std::string::npos)
      << mismatch.output;
  EXPECT_NE(mismatch.output.find("small.txt"), std::string::npos) << mismatch.output;
}

}  // namespace
