// Training as an ML engineer runs it: prepare a small Couture-FMNIST, train the perceptual features network, then
// a tiny VQGAN with it; the run leaves weights, checkpoints, metrics, a loss curve and a sample grid, and a second
// invocation with more steps resumes where the first stopped. Fine-tuning the decoder alone keeps every code.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "data/dataset.h"
#include "io/safetensors.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::testing::count_lines;
using couture::testing::run_command;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

TEST(TrainVqgan, PrepareFeaturesVqganAndResume) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string bin = COUTURE_BINARY;
  auto prep = run_command(bin + " prepare fmnist --limit 40 --size 32 --out " + (dir / "data").string());
  ASSERT_EQ(prep.status, 0) << prep.output;

  auto feat = run_command(bin + " train features --dataset " + (dir / "data").string() + " --out " +
                          (dir / "feat").string() + " --steps 3 --batch 8 --validate-every 0");
  ASSERT_EQ(feat.status, 0) << feat.output;
  ASSERT_TRUE(fs::exists(dir / "feat/features.safetensors"));

  std::ofstream(dir / "tiny.json") << R"({"resolution": 32, "ch": 32, "ch_mult": [1, 1], "num_res_blocks": 1,
      "attn_resolutions": [], "z_channels": 8, "embed_dim": 8, "n_embed": 16})";
  const std::string train = bin + " train vqgan --dataset " + (dir / "data").string() + " --out " +
                            (dir / "vq").string() + " --config " + (dir / "tiny.json").string() + " --features " +
                            (dir / "feat").string() +
                            " --batch 4 --checkpoint-every 2 --log-every 1 --disc-start 2 --reinit-every 2";
  auto first = run_command(train + " --steps 4");
  ASSERT_EQ(first.status, 0) << first.output;
  for (const char* f : {"vqgan.safetensors", "loss.png", "samples.png", "metrics.jsonl", "run.json",
                        "checkpoints/step-000000004/model.safetensors",
                        "checkpoints/step-000000004/discriminator.optimizer.safetensors"})
    EXPECT_TRUE(fs::exists(dir / "vq" / f)) << f;
  EXPECT_NE(first.output.find("perceptual loss: features:"), std::string::npos) << first.output;

  auto again = run_command(train + " --steps 6");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("resuming from step 4"), std::string::npos) << again.output;
  // one line per step plus one validation line per run end
  EXPECT_EQ(count_lines(dir / "vq/metrics.jsonl"), 6 + 2);

  auto inspect = run_command(bin + " inspect " + (dir / "vq/vqgan.safetensors").string());
  EXPECT_NE(inspect.output.find("quantize.embedding.weight"), std::string::npos) << inspect.output;

  // --decoder-of: only the decoder (and post_quant_conv before it) learns, so the encoder and the codebook, and with
  // them every image's codes and any DALL-E trained on them, are the source's bit for bit.
  const std::string decoder = bin + " train vqgan --dataset " + (dir / "data").string() + " --decoder-of " +
                              (dir / "vq").string() + " --features " + (dir / "feat").string() +
                              " --batch 4 --steps 3 --disc-start 1 --log-every 1 --out ";
  auto tuned = run_command(decoder + (dir / "vqdec").string());
  ASSERT_EQ(tuned.status, 0) << tuned.output;
  EXPECT_NE(tuned.output.find("fine-tuning the decoder of"), std::string::npos) << tuned.output;
  auto before = couture::SafetensorsFile::open(dir / "vq/vqgan.safetensors");
  auto after = couture::SafetensorsFile::open(dir / "vqdec/vqgan.safetensors");
  int kept = 0, changed = 0;
  for (const auto& t : before.tensors()) {
    const auto& u = after.at(t.name);
    const bool same = t.nbytes == u.nbytes && std::memcmp(t.data, u.data, t.nbytes) == 0;
    if (t.name.rfind("decoder.", 0) == 0 || t.name.rfind("post_quant_conv.", 0) == 0) {  // the decoder's side
      changed += !same;
    } else {
      EXPECT_TRUE(same) << t.name << " changed while fine-tuning the decoder";
      kept += same;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(changed, 0) << "the decoder did not learn";
  auto both = run_command(decoder + (dir / "vqdec2").string() + " --config " + (dir / "tiny.json").string());
  EXPECT_EQ(both.status, 1);
  EXPECT_NE(both.output.find("--decoder-of or --config"), std::string::npos) << both.output;

  // vqgan recon --dataset: the same records and captions, each image as the VQGAN gives it back (what a reranker
  // sees at generation time).
  auto recon = run_command(bin + " vqgan recon --vqgan " + (dir / "vq").string() + " --dataset " +
                           (dir / "data").string() + " --limit 10 --out " + (dir / "recon").string());
  ASSERT_EQ(recon.status, 0) << recon.output;
  const auto original = couture::Dataset::open(dir / "data", "train");
  const auto through = couture::Dataset::open(dir / "recon", "train");
  ASSERT_EQ(through.size(), 10);
  int64_t differing = 0;
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(through.record(i).captions, original.record(i).captions) << i;
    const auto a = original.image(i), b = through.image(i);
    ASSERT_EQ(b.height * b.width * b.channels, a.height * a.width * a.channels);
    differing += std::memcmp(a.data, b.data, size_t(a.height * a.width * a.channels)) != 0;
  }
  EXPECT_EQ(differing, 10) << "the images were copied, not reconstructed";
  auto neither = run_command(bin + " vqgan recon --vqgan " + (dir / "vq").string() + " --out " +
                             (dir / "recon2").string());
  EXPECT_EQ(neither.status, 1);
  EXPECT_NE(neither.output.find("give image files or --dataset"), std::string::npos) << neither.output;

  auto mismatch = run_command(bin + " train vqgan --dataset " + (dir / "data").string() + " --out " +
                              (dir / "vq2").string() + " --preset fmnist --steps 1");
  EXPECT_EQ(mismatch.status, 1);
  EXPECT_NE(mismatch.output.find("prepare it with --size 64"), std::string::npos) << mismatch.output;
}

}  // namespace
