// Crash-safe training as a user meets it: a tiny `couture train vqgan` killed with SIGKILL at random moments (some
// while a checkpoint is being written), resumed each time with the same command, ends with the weights and the
// loss curve of an uninterrupted run. Also: an output folder that cannot be written is one clear error, and so is a
// disk that fills up, which keeps the last complete checkpoint to resume from.
// COUTURE_CRASH_KILLS sets the number of kills (default 5; scripts/stress uses more).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

extern char** environ;

using couture::testing::run_command;
using couture::testing::TempDir;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kBinary = COUTURE_BINARY;

// The half-written folders of save_checkpoint (.tmp-*) and of a replaced one (.old-*).
std::set<std::string> temporaries(const fs::path& run) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run / "checkpoints", ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind(".tmp-", 0) == 0 || name.rfind(".old-", 0) == 0) names.insert(name);
  }
  return names;
}
int count_temporaries(const fs::path& run) { return int(temporaries(run).size()); }

// True when a temporary folder exists that was not there before this run started (the previous kill's leftovers
// are not this run writing a checkpoint: killing then would stop it before it even resumed).
bool writing_checkpoint(const fs::path& run, const std::set<std::string>& leftovers) {
  for (const auto& name : temporaries(run))
    if (!leftovers.count(name)) return true;
  return false;
}

struct Attempt {
  bool killed = false;
  bool mid_checkpoint = false;  // a temporary checkpoint folder was left behind by the kill
  int status = -1;              // exit status when it finished on its own
  double seconds = 0;
};

// Runs `command` (its output into `log`) and SIGKILLs it after `delay`, or, with `at_checkpoint`, at the first
// moment after `delay` that a checkpoint is being written.
Attempt run_and_kill(const std::string& command, const fs::path& log, const fs::path& run, double delay,
                     bool at_checkpoint) {
  const std::string shell = "exec " + command + " > '" + log.string() + "' 2>&1";
  const char* argv[] = {"/bin/sh", "-c", shell.c_str(), nullptr};
  pid_t pid = -1;
  Attempt a;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return a;
  const auto leftovers = temporaries(run);
  const auto start = Clock::now();
  for (;;) {
    int raw = 0;
    if (waitpid(pid, &raw, WNOHANG) == pid) {
      a.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
      break;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed >= delay && (!at_checkpoint || writing_checkpoint(run, leftovers))) {
      kill(pid, SIGKILL);
      waitpid(pid, &raw, 0);
      a.killed = true;
      a.mid_checkpoint = count_temporaries(run) > 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(at_checkpoint && elapsed >= delay ? 200 : 2000));
  }
  a.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return a;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Training lines of metrics.jsonl (those with a "loss"), by step; a step seen twice fails the test.
std::map<int64_t, double> training_losses(const fs::path& run) {
  std::map<int64_t, double> losses;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("loss")) continue;
    const auto step = j["step"].get<int64_t>();
    EXPECT_EQ(losses.count(step), 0u) << "metrics.jsonl has step " << step << " twice";
    losses[step] = j["loss"].is_number() ? j["loss"].get<double>() : std::nan("");
  }
  return losses;
}

// Largest absolute difference over all tensors of two F32 safetensors files with the same names and shapes.
double max_weight_difference(const fs::path& a, const fs::path& b) {
  const auto fa = couture::SafetensorsFile::open(a), fb = couture::SafetensorsFile::open(b);
  EXPECT_EQ(fa.tensors().size(), fb.tensors().size());
  double worst = 0;
  for (const auto& ta : fa.tensors()) {
    const auto& tb = fb.at(ta.name);
    EXPECT_EQ(ta.shape, tb.shape) << ta.name;
    if (ta.dtype != couture::DType::F32 || tb.dtype != ta.dtype || ta.nbytes != tb.nbytes) continue;
    const auto* x = reinterpret_cast<const float*>(ta.data);
    const auto* y = reinterpret_cast<const float*>(tb.data);
    for (int64_t i = 0; i < ta.numel(); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
  }
  return worst;
}

class TrainCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    auto prep = run_command(kBinary + " prepare fmnist --limit 40 --size 32 --out " + (dir_ / "data").string());
    ASSERT_EQ(prep.status, 0) << prep.output;
    std::ofstream(dir_ / "tiny.json") << R"({"resolution": 32, "ch": 32, "ch_mult": [1, 1], "num_res_blocks": 1,
        "attn_resolutions": [], "z_channels": 8, "embed_dim": 8, "n_embed": 1024})";
  }
  // One thread, so that both runs add up floating-point sums in the same order; passive waiting, since spinning
  // OpenMP threads crawl when the machine is busy.
  std::string train(const fs::path& out, int steps) const {
    return "env OMP_WAIT_POLICY=PASSIVE " + kBinary + " --threads 1 train vqgan --dataset " + (dir_ / "data").string() +
           " --out " + out.string() + " --config " + (dir_ / "tiny.json").string() +
           " --steps " + std::to_string(steps) + " --batch 4 --checkpoint-every 1 --log-every 1 --disc-start 3 --reinit-every 1 --seed 5";
  }
  TempDir dir_;
};

TEST_F(TrainCrash, KilledRunsResumeToTheWeightsOfAnUninterruptedOne) {
  const int kills = std::max(5, std::atoi(std::getenv("COUTURE_CRASH_KILLS") ?: "5"));
  const int steps = 10;
  const fs::path reference = dir_ / "reference", run = dir_ / "run";
  const auto start = Clock::now();
  auto whole = run_command(train(reference, steps));
  ASSERT_EQ(whole.status, 0) << whole.output;
  const double whole_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::mt19937 rng(20261125);
  int killed = 0, mid_checkpoint = 0, attempts = 0;
  int64_t newest = 0;  // step of the newest complete checkpoint so far
  {
    // One kill early, right after the step-2 checkpoint: the resumed run then goes through dead-code
    // re-initialisations (every step until step 8), which draw on state that only the checkpoint can restore.
    const std::string shell = "exec " + train(run, steps) + " > '" + (dir_ / "early.log").string() + "' 2>&1";
    const char* argv[] = {"/bin/sh", "-c", shell.c_str(), nullptr};
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    int raw = 0;
    while (!fs::exists(run / "checkpoints" / "step-000000002") && waitpid(pid, &raw, WNOHANG) != pid)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    kill(pid, SIGKILL);
    waitpid(pid, &raw, 0);
    const int64_t at = couture::load_checkpoint(couture::list_checkpoints(run).back()).step;
    ASSERT_LT(at, 8) << read_text(dir_ / "early.log");
    auto resumed = run_command(train(run, steps));
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    const double weights = max_weight_difference(reference / "vqgan.safetensors", run / "vqgan.safetensors");
    std::printf("early kill after the checkpoint of step %lld, resumed: max weight difference %.3g\n",
                static_cast<long long>(at), weights);
    EXPECT_LE(weights, 1e-6) << "a run resumed from step " << at << " ended elsewhere than an uninterrupted one";
    fs::remove_all(run);  // the random kills below start afresh
  }
  // Every other kill waits for a checkpoint being written; keep trying until two such kills left a temporary
  // folder behind (timing decides whether a kill lands inside the write).
  while ((killed < kills || mid_checkpoint < 2) && attempts < kills + 12) {
    const bool at_checkpoint = attempts % 2 == 1 || killed >= kills;
    const double delay = std::uniform_real_distribution<double>(0.15, 0.9)(rng) * whole_seconds;
    const fs::path log = dir_ / ("attempt-" + std::to_string(attempts) + ".log");
    ++attempts;
    const Attempt a = run_and_kill(train(run, steps), log, run, delay, at_checkpoint);
    const std::string output = read_text(log);
    // A run killed during its start (before it read the checkpoints) never got to resume; one that did must have
    // taken the newest complete checkpoint. (One that trained from scratch instead would repeat steps in
    // metrics.jsonl, which the end of the test refuses.)
    if (newest > 0 && output.find("resuming from step ") != std::string::npos) {
      EXPECT_NE(output.find("resuming from step " + std::to_string(newest) + " in "), std::string::npos)
          << "expected to resume from step " << newest << ":\n" << output;
    }
    if (!a.killed) {  // finished before the moment came: start the run over for the next kill
      ASSERT_EQ(a.status, 0) << output;
      fs::remove_all(run);
      newest = 0;
      continue;
    }
    ++killed;
    mid_checkpoint += a.mid_checkpoint;
    // Every folder that looks like a checkpoint is a complete one (pruning renames a folder to .old-* before
    // removing it), and the newest is what the next run resumes from.
    int64_t now = 0;
    std::vector<int64_t> damaged;  // steps, from the folder names step-NNNNNNNNN
    for (const auto& folder : couture::list_checkpoints(run)) {
      try {
        now = couture::load_checkpoint(folder).step;
      } catch (const couture::Error&) {
        damaged.push_back(std::stoll(folder.filename().string().substr(5)));
      }
    }
    for (int64_t step : damaged) ADD_FAILURE() << "the checkpoint folder of step " << step << " is incomplete";
    EXPECT_GE(now, newest) << "the newest checkpoint went back";
    newest = now;
    std::printf("kill %d after %.2f s%s: newest complete checkpoint step %lld%s\n", killed, a.seconds,
                a.mid_checkpoint ? " while writing a checkpoint" : "", static_cast<long long>(newest),
                damaged.empty() ? "" : " (and an incomplete one)");
  }
  EXPECT_GE(killed, kills);
  EXPECT_GE(mid_checkpoint, 2) << "no kill landed while a checkpoint was being written";

  auto last = run_command(train(run, steps));
  ASSERT_EQ(last.status, 0) << last.output;
  if (newest > 0) {
    EXPECT_NE(last.output.find("resuming from step " + std::to_string(newest) + " in "), std::string::npos)
        << last.output;
  }
  EXPECT_EQ(count_temporaries(run), 0) << "half-written checkpoint folders were left behind";

  const double weights = max_weight_difference(reference / "vqgan.safetensors", run / "vqgan.safetensors");
  const auto expected = training_losses(reference), got = training_losses(run);
  ASSERT_EQ(got.size(), size_t(steps));
  double loss_difference = 0;
  for (const auto& [step, loss] : expected) {
    ASSERT_TRUE(got.count(step)) << "step " << step << " is missing from metrics.jsonl";
    loss_difference = std::max(loss_difference, std::abs(got.at(step) - loss));
  }
  std::printf("%d kills (%d while writing a checkpoint) in %d attempts; vs the uninterrupted run: max weight "
              "difference %.3g, max loss difference %.3g\n",
              killed, mid_checkpoint, attempts, weights, loss_difference);
  EXPECT_LE(weights, 1e-6);
  EXPECT_LE(loss_difference, 1e-6);
}

TEST_F(TrainCrash, UnwritableOutputIsOneClearErrorAndLeavesNothing) {
  // Under a regular file no one can create a folder, root included; chmod 555 stops everyone else.
  std::ofstream(dir_ / "a-file") << "x";
  std::vector<fs::path> outs = {dir_ / "a-file" / "run"};
  if (geteuid() != 0) {
    fs::create_directories(dir_ / "locked");
    chmod((dir_ / "locked").c_str(), 0555);
    outs.push_back(dir_ / "locked" / "run");
  }
  for (const auto& out : outs) {
    auto r = run_command(train(out, 2));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("couture: error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(out.parent_path().string()), std::string::npos) << "the error names the folder:\n"
                                                                          << r.output;
    EXPECT_FALSE(fs::exists(out)) << out;
  }
  if (geteuid() != 0) {
    EXPECT_TRUE(fs::is_empty(dir_ / "locked"));
    chmod((dir_ / "locked").c_str(), 0755);
  }
}

// A disk that fills up mid-run: a private tmpfs of 20 MB (a user and mount namespace, no root needed) holds the
// first checkpoint of the tiny model (~14 MB: weights, discriminator and their Adam moments) but not the second.
TEST_F(TrainCrash, OutOfDiskIsOneClearErrorAndKeepsTheLastCompleteCheckpoint) {
  if (run_command("unshare -r -m true").status != 0) GTEST_SKIP() << "unshare -r -m (user namespaces) is not allowed here";
  const fs::path mnt = dir_ / "small-disk", copy = dir_ / "copied";
  fs::create_directories(mnt);
  auto r = run_command("unshare -r -m sh -c '" "mount -t tmpfs -o size=20m tmpfs " + mnt.string() + " && " +
                       train(mnt / "run", 6) + "; echo exit=$?; cp -a " + (mnt / "run").string() + " " +
                       copy.string() + "'");
  ASSERT_NE(r.output.find("exit="), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exit=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("couture: error: saving checkpoint of step 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  size_t errors = 0;
  for (size_t at = r.output.find("couture: error: "); at != std::string::npos; at = r.output.find("couture: error: ", at + 1))
    ++errors;
  EXPECT_EQ(errors, 1u) << "one error line:\n" << r.output;
  ASSERT_TRUE(fs::exists(copy / "run.json")) << r.output;
  EXPECT_TRUE(temporaries(copy).empty()) << "a half-written checkpoint was left behind";
  const auto folders = couture::list_checkpoints(copy);
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_EQ(couture::load_checkpoint(folders.front()).step, 1);
  // With room again, the same command continues from that checkpoint.
  auto resumed = run_command(train(copy, 3));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from step 1 in "), std::string::npos) << resumed.output;
}

}  // namespace
