// The real trainers, data-parallel as an ML engineer starts them (torchrun's variables, two processes on
// loopback): `couture train vqgan --vqvae` and `couture train dalle` on 2 ranks with --batch 2 end with the weights
// one process reaches with --batch 4 (where nothing random differs: no dropout, no null captions, no dead-code
// re-initialisation), rank 0 alone writes the run, and `couture train clip` (whose contrastive batch is gathered
// over ranks) trains on 2 ranks and resumes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <tuple>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "nn/tensor_io.h"
#include "support/free_port.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::SafetensorsFile;
using couture::testing::count_lines;
using couture::testing::free_tcp_port;
using couture::testing::run_command;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// `command` (without --batch) on 2 ranks of batch `per_rank` each; both must exit 0.
couture::testing::CommandResult run_two_ranks(const std::string& command, int per_rank, const fs::path& logs) {
  const std::string env = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_tcp_port()) +
                          " WORLD_SIZE=2 COUTURE_DIST_TIMEOUT=60 ";
  const std::string cmd = command + " --batch " + std::to_string(per_rank);
  const std::string r0 = (logs / "rank0.log").string(), r1 = (logs / "rank1.log").string();
  return run_command("sh -c '" + env + "RANK=1 " + cmd + " >" + r1 + " 2>&1 & p=$!; " + env + "RANK=0 " + cmd +
                     " >" + r0 + " 2>&1; s0=$?; wait $p; s1=$?; cat " + r0 + "; echo ranks exited $s0 $s1; " +
                     "[ $s0 -eq 0 ] && [ $s1 -eq 0 ]'");
}

// The largest absolute difference between two weight files, and the tensor where it is.
std::pair<double, std::string> max_difference(const fs::path& a, const fs::path& b) {
  auto fa = SafetensorsFile::open(a), fb = SafetensorsFile::open(b);
  std::pair<double, std::string> worst{0.0, ""};
  for (const auto& t : fa.tensors()) {
    const double d = (couture::load_tensor(fa, t.name).to(torch::kDouble) -
                      couture::load_tensor(fb, t.name).to(torch::kDouble))
                         .abs()
                         .max()
                         .item<double>();
    if (d > worst.first) worst = {d, t.name};
  }
  return worst;
}

// Every loss and validation figure of every logged step, two runs side by side: the largest relative difference.
double max_metric_difference(const fs::path& a, const fs::path& b) {
  std::ifstream fa(a), fb(b);
  std::string la, lb;
  double worst = 0;
  int lines = 0;
  while (std::getline(fa, la) && std::getline(fb, lb)) {
    auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    EXPECT_EQ(ja["step"], jb["step"]);
    for (auto it = ja.begin(); it != ja.end(); ++it) {
      if (it.key().find("loss") == std::string::npos && it.key().rfind("val_", 0) != 0) continue;
      const double x = it->get<double>(), y = jb.at(it.key()).get<double>();
      worst = std::max(worst, std::abs(x - y) / std::max(1e-6, std::abs(x)));
    }
    ++lines;
  }
  EXPECT_GT(lines, 0);
  return worst;
}

class TrainDistributed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    auto prep = run_command(bin + " prepare fmnist --limit 40 --size 32 --out " + data());
    ASSERT_EQ(prep.status, 0) << prep.output;
    std::ofstream(dir / "vq.json") << R"({"resolution": 32, "ch": 32, "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1,
        "attn_resolutions": [], "z_channels": 8, "embed_dim": 8, "n_embed": 16})";
    auto vocab = run_command(bin + " vocab train --dataset " + data() + " --size 150 --out " + path("vocab.txt"));
    ASSERT_EQ(vocab.status, 0) << vocab.output;
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }

  struct OneVersusTwo {
    bool ran = false;      // both runs exited 0 (failures are reported as they happen)
    double weights = 0;    // largest absolute weight difference
    double metrics = 0;    // largest relative loss/validation difference
    std::string two_output;
  };
  // `train` (ending in --out) to DIR/one with --batch 4 in one process and to DIR/two on 2 ranks of --batch 2.
  OneVersusTwo one_versus_two_ranks(const std::string& train, const std::string& weights) {
    OneVersusTwo r;
    auto one = run_command(train + path("one") + " --batch 4");
    EXPECT_EQ(one.status, 0) << one.output;
    fs::create_directories(dir / "logs");
    auto two = run_two_ranks(train + path("two"), 2, dir / "logs");
    EXPECT_EQ(two.status, 0) << two.output;
    if (one.status != 0 || two.status != 0) return r;
    r.ran = true;
    r.two_output = two.output;
    std::string where;
    std::tie(r.weights, where) = max_difference(dir / "one" / weights, dir / "two" / weights);
    r.metrics = max_metric_difference(dir / "one/metrics.jsonl", dir / "two/metrics.jsonl");
    std::printf("%s: 2 ranks x batch 2 vs 1 process x batch 4: max weight difference %g (%s), max relative "
                "loss/validation difference %g\n", weights.c_str(), r.weights, where.c_str(), r.metrics);
    return r;
  }
  std::string data() const { return path("data"); }

  TempDir dir;
  const std::string bin = COUTURE_BINARY + std::string(" --threads 1");
};

TEST_F(TrainDistributed, VqvaeOnTwoRanksMatchesOneProcessWithTheCombinedBatch) {
  const std::string train = bin + " train vqgan --vqvae --reinit-every 0 --dataset " + data() + " --config " +
                            path("vq.json") + " --steps 4 --checkpoint-every 2 --log-every 1 --out ";
  const OneVersusTwo r = one_versus_two_ranks(train, "vqgan.safetensors");
  ASSERT_TRUE(r.ran);
  EXPECT_LT(r.metrics, 1e-5);
  // Conv biases that a one-channel GroupNorm cancels have a gradient of rounding noise only (~1e-9), which Adam
  // turns into steps of up to the learning rate in either direction; every other weight agrees to ~1e-7.
  EXPECT_LT(r.weights, 2e-3);
  EXPECT_EQ(count_lines(dir / "two/metrics.jsonl"), count_lines(dir / "one/metrics.jsonl"));
  EXPECT_TRUE(fs::exists(dir / "two/checkpoints/step-000000004"));
  EXPECT_NE(r.two_output.find("rank 0 of 2"), std::string::npos) << r.two_output;
}

TEST_F(TrainDistributed, DalleOnTwoRanksMatchesOneProcessWithTheCombinedBatch) {
  auto vq = run_command(bin + " train vqgan --vqvae --dataset " + data() + " --out " + path("vq") + " --config " +
                        path("vq.json") + " --steps 2 --batch 4");
  ASSERT_EQ(vq.status, 0) << vq.output;
  auto enc = run_command(bin + " encode --dataset " + data() + " --vqgan " + path("vq"));
  ASSERT_EQ(enc.status, 0) << enc.output;
  std::ofstream(dir / "tiny.json") << R"({"num_text_tokens": )" << count_lines(dir / "vocab.txt")
                                   << R"(, "text_seq_len": 16, "text_pos_len": 17, "dim": 32, "depth": 2,
      "heads": 2, "dim_head": 16, "image_fmap_size": 4, "num_image_tokens": 16, "reversible": false,
      "attn_dropout": 0, "ff_dropout": 0})";
  const std::string train = bin + " train dalle --dataset " + data() + " --vqgan " + path("vq") + " --vocab " +
                            path("vocab.txt") + " --config " + path("tiny.json") +
                            " --null-caption-prob 0 --steps 4 --checkpoint-every 2 --log-every 1 --out ";
  const OneVersusTwo r = one_versus_two_ranks(train, "dalle.safetensors");
  ASSERT_TRUE(r.ran);
  EXPECT_LT(r.metrics, 1e-5);
  EXPECT_LT(r.weights, 1e-4);
  EXPECT_EQ(count_lines(dir / "two/metrics.jsonl"), count_lines(dir / "one/metrics.jsonl"));
}

TEST_F(TrainDistributed, ClipTrainsOnTwoRanksAndResumes) {
  const std::string train = bin + " train clip --dataset " + data() + " --vocab " + path("vocab.txt") + " --out " +
                            path("clip") + " --preset tiny --checkpoint-every 2 --log-every 1";
  fs::create_directories(dir / "logs");
  auto first = run_two_ranks(train + " --steps 2", 4, dir / "logs");
  ASSERT_EQ(first.status, 0) << first.output;
  auto again = run_two_ranks(train + " --steps 4", 4, dir / "logs");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("resuming from step 2"), std::string::npos) << again.output;
  EXPECT_TRUE(fs::exists(dir / "clip/clip.safetensors"));
  EXPECT_EQ(count_lines(dir / "clip/metrics.jsonl"), 4 + 2);  // a line per step, a validation per run end
}

}  // namespace
