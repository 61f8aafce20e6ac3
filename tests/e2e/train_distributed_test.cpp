// Data-parallel training over c10d/Gloo on loopback: two ranks end with identical weights, equal to one process
// training on the combined batch, also for a contrastive loss over the all-gathered global batch (as train clip
// does); a rank that dies makes the other stop with a clear error within the timeout.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <thread>

#include "core/log.h"
#include "io/safetensors.h"
#include "models/clip.h"
#include "nn/tensor_io.h"
#include "support/free_port.h"
#include "support/temp_dir.h"
#include "train/loop.h"
#include "train/sharding.h"

using namespace couture;
using couture::testing::free_tcp_port;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kBatch = 8;  // the global batch; each of 2 ranks takes 4
constexpr int64_t kSteps = 6;

// This rank's slice of each global batch of kBatch from a 64-record dataset (world 1: the whole batch).
ShardedSampler rank_sampler(const Distributed* dist) {
  const int world = dist ? dist->world_size() : 1, rank = dist ? dist->rank() : 0;
  return ShardedSampler(64, kBatch / world, 5, rank, world);
}

LoopOptions test_loop_options(const fs::path& run_dir, std::shared_ptr<Distributed> dist) {
  LoopOptions options;
  options.run_dir = run_dir;
  options.steps = kSteps;
  options.checkpoint_every = 3;
  options.log_every = 1;
  options.distributed = std::move(dist);
  return options;
}

struct Mlp : torch::nn::Module {
  torch::nn::Linear a{nullptr}, b{nullptr};
  Mlp() {
    a = register_module("a", torch::nn::Linear(6, 16));
    b = register_module("b", torch::nn::Linear(16, 1));
  }
  torch::Tensor forward(torch::Tensor x) { return b(torch::tanh(a(x))); }
};

// Trains the MLP on a fixed dataset; world 1 uses the whole batch, otherwise this rank's slice of it.
// At `stop_at_step` this rank dies (as a crashed or killed process) or, with `hang`, stops answering for good.
void train(const fs::path& run_dir, std::shared_ptr<Distributed> dist, int stop_at_step = -1, bool hang = false) {
  torch::manual_seed(11);
  auto data = torch::randn({64, 6});
  auto target = data.sum(1, true).sin();
  torch::manual_seed(3 + (dist ? dist->rank() : 0));  // ranks start apart: the broadcast must align them
  Mlp model;
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(1e-2));
  TrainingState state{{{"model", &model, &opt, {}}}};
  const int rank = dist ? dist->rank() : 0;
  ShardedSampler sampler = rank_sampler(dist.get());
  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    if (step == stop_at_step) {
      while (hang) pause();
      std::_Exit(9);
    }
    auto idx = torch::tensor(sampler.batch(step));
    auto loss = torch::mse_loss(model.forward(data.index_select(0, idx)), target.index_select(0, idx));
    loss.backward();
    apply_gradients(model, opt, 0.5, dist.get());
    return Metrics{{"loss", loss.item<double>()}};
  };
  run_training_loop(test_loop_options(run_dir, dist), state, hooks);
  save_tensors(run_dir / ("final-rank" + std::to_string(rank) + ".safetensors"), state_dict(model));
}

// Two linear towers trained with CLIP's loss: each rank embeds its slice of the batch, the embeddings are
// all-gathered, and every rank computes the loss over the whole global batch (world 1: the whole batch at once).
struct Towers : torch::nn::Module {
  torch::nn::Linear text{nullptr}, image{nullptr};
  torch::Tensor logit_scale;
  Towers() {
    text = register_module("text", torch::nn::Linear(6, 4));
    image = register_module("image", torch::nn::Linear(5, 4));
    logit_scale = register_parameter("logit_scale", torch::full({}, 1.0));
  }
};

void train_contrastive(const fs::path& run_dir, std::shared_ptr<Distributed> dist) {
  torch::manual_seed(21);
  auto text_in = torch::randn({64, 6}), image_in = torch::randn({64, 5});
  torch::manual_seed(4 + (dist ? dist->rank() : 0));
  Towers model;
  // eps 1: the update depends on the gradient's scale (with Adam's usual 1e-8 it hardly does), so a gathered
  // gradient off by the world size, as without the sum over ranks in all_gather's backward, fails the comparison.
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(1e-2).eps(1.0));
  TrainingState state{{{"model", &model, &opt, {}}}};
  const int rank = dist ? dist->rank() : 0;
  ShardedSampler sampler = rank_sampler(dist.get());
  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    auto idx = torch::tensor(sampler.batch(step));
    auto t = torch::nn::functional::normalize(model.text(text_in.index_select(0, idx)),
                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
    auto i = torch::nn::functional::normalize(model.image(image_in.index_select(0, idx)),
                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
    if (dist) t = dist->all_gather(t), i = dist->all_gather(i);
    auto loss = clip_loss(model.logit_scale.exp() * t.matmul(i.t()));
    loss.backward();
    apply_gradients(model, opt, 0, dist.get());
    return Metrics{{"loss", loss.item<double>()}};
  };
  run_training_loop(test_loop_options(run_dir, dist), state, hooks);
  save_tensors(run_dir / ("final-rank" + std::to_string(rank) + ".safetensors"), state_dict(model));
}

// Child processes re-run this binary with COUTURE_TEST_ROLE set.
TEST(DistributedChild, Rank) {
  const char* role = std::getenv("COUTURE_TEST_ROLE");
  if (!role) GTEST_SKIP() << "only runs as a child of the distributed tests";
  log::set_quiet(true);
  auto options = distributed_from_env();
  ASSERT_TRUE(options);
  const std::string r = role;
  const int stop_at = (r == "die" || r == "hang") && options->rank == 1 ? 4 : -1;
  try {
    if (std::string(role) == "contrastive")
      train_contrastive(std::getenv("COUTURE_TEST_RUN"), Distributed::connect(*options));
    else
      train(std::getenv("COUTURE_TEST_RUN"), Distributed::connect(*options), stop_at, r == "hang");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "couture: error: %s\n", e.what());
    std::_Exit(1);
  }
}

pid_t spawn_rank(int rank, int port, const fs::path& run, const std::string& role, const fs::path& log,
                 int timeout_s = 20) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("COUTURE_TEST_ROLE", role.c_str(), 1);
    setenv("COUTURE_TEST_RUN", run.c_str(), 1);
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    setenv("COUTURE_DIST_TIMEOUT", std::to_string(timeout_s).c_str(), 1);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1), dup2(fd, 2);
    execl("/proc/self/exe", "child", "--gtest_filter=DistributedChild.Rank", nullptr);
    std::_Exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `role` on 2 ranks in `multi` and compares their final weights with each other and with `single`'s.
void expect_two_ranks_match_one_process(const fs::path& single, const fs::path& multi, const std::string& role,
                                        int port) {
  pid_t r0 = spawn_rank(0, port, multi, role, multi / "rank0.log");
  pid_t r1 = spawn_rank(1, port, multi, role, multi / "rank1.log");
  ASSERT_EQ(wait_exit(r0), 0) << slurp(multi / "rank0.log");
  ASSERT_EQ(wait_exit(r1), 0) << slurp(multi / "rank1.log");
  auto one = SafetensorsFile::open(single / "final-rank0.safetensors");
  auto w0 = SafetensorsFile::open(multi / "final-rank0.safetensors");
  auto w1 = SafetensorsFile::open(multi / "final-rank1.safetensors");
  double max_rank_diff = 0, max_single_diff = 0;
  for (const auto& t : one.tensors()) {
    auto a = load_tensor(w0, t.name), b = load_tensor(w1, t.name), s = load_tensor(one, t.name);
    max_rank_diff = std::max(max_rank_diff, (a - b).abs().max().item<double>());
    max_single_diff = std::max(max_single_diff, (a - s).abs().max().item<double>());
  }
  std::printf("%s: max |rank0 - rank1| = %g, max |2 ranks - 1 process| = %g\n", role.c_str(), max_rank_diff,
              max_single_diff);
  EXPECT_EQ(max_rank_diff, 0.0);
  EXPECT_LT(max_single_diff, 1e-5);
  // rank 0 alone wrote checkpoints and metrics
  EXPECT_TRUE(fs::exists(multi / "checkpoints/step-000000006"));
  std::ifstream metrics(multi / "metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(metrics, l);) ++lines;
  EXPECT_EQ(lines, kSteps);
}

TEST(Distributed, TwoRanksMatchOneProcessWithTheCombinedBatch) {
  log::set_quiet(true);
  TempDir single, multi;
  train(single.path(), nullptr);
  expect_two_ranks_match_one_process(single.path(), multi.path(), "train", free_tcp_port());
}

TEST(Distributed, AContrastiveLossOverTheGatheredBatchMatchesOneProcess) {
  log::set_quiet(true);
  TempDir single, multi;
  train_contrastive(single.path(), nullptr);
  expect_two_ranks_match_one_process(single.path(), multi.path(), "contrastive", free_tcp_port());
}

TEST(Distributed, ADeadRankStopsTheOtherWithAClearError) {
  TempDir multi;
  int port = free_tcp_port();
  auto start = std::chrono::steady_clock::now();
  pid_t r0 = spawn_rank(0, port, multi.path(), "die", multi / "rank0.log");
  pid_t r1 = spawn_rank(1, port, multi.path(), "die", multi / "rank1.log");
  EXPECT_EQ(wait_exit(r1), 9);
  int code = wait_exit(r0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string log = slurp(multi / "rank0.log");
  std::printf("surviving rank exited with %d after %.1f s\n", code, seconds);
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("rank 0 of 2"), std::string::npos) << log;
  EXPECT_NE(log.find("failed"), std::string::npos) << log;
  EXPECT_LT(seconds, 60) << "the survivor must not wait past the 20 s timeout (plus start-up)";
}

TEST(Distributed, AHungRankStopsTheOtherWithAClearErrorAfterTheTimeout) {
  TempDir multi;
  const int port = free_tcp_port(), timeout_s = 5;
  auto start = std::chrono::steady_clock::now();
  pid_t r0 = spawn_rank(0, port, multi.path(), "hang", multi / "rank0.log", timeout_s);
  pid_t r1 = spawn_rank(1, port, multi.path(), "hang", multi / "rank1.log", timeout_s);
  int code = wait_exit(r0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  kill(r1, SIGKILL);
  wait_exit(r1);
  std::string log = slurp(multi / "rank0.log");
  std::printf("surviving rank exited with %d after %.1f s (timeout %d s)\n", code, seconds, timeout_s);
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("failed"), std::string::npos) << log;
  EXPECT_GE(seconds, timeout_s) << "rank 1 answers nothing after step 3, so only the timeout can end rank 0";
  EXPECT_LT(seconds, 4 * timeout_s + 10) << log;
}

}  // namespace
