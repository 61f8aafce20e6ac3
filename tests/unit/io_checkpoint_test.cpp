// Checkpoints are complete or absent: interrupted saves fall back, non-finite weights are refused, pruning keeps
// the newest K plus the best.
#include "io/checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<CheckpointFile> weights(std::vector<float>& values) {
  return {{"model.safetensors", {{"w", DType::F32, {int64_t(values.size())},
                                  reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4}},
           {{"config", "{}"}}}};
}

float first_weight(const LoadedCheckpoint& ck) {
  float v;
  std::memcpy(&v, ck.files.at("model.safetensors").at("w").data, 4);
  return v;
}

TEST(Checkpoint, SavesAndLoadsNewest) {
  TempDir run;
  for (int step : {10, 20, 30}) {
    std::vector<float> w = {float(step), 1, 2};
    save_checkpoint(run.path(), step, weights(w), {{"seed", 7}});
  }
  auto ck = load_latest_checkpoint(run.path());
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->step, 30);
  EXPECT_EQ(first_weight(*ck), 30.f);
  EXPECT_EQ(ck->state["seed"], 7);
  auto meta = ck->files.at("model.safetensors").metadata();
  EXPECT_EQ(meta.at("step"), "30");
  EXPECT_EQ(meta.at("format_version"), "1");
  EXPECT_EQ(meta.at("config"), "{}");
}

TEST(Checkpoint, TruncatedNewestFallsBackWithWarning) {
  TempDir run;
  for (int step : {1, 2}) {
    std::vector<float> w = {float(step)};
    save_checkpoint(run.path(), step, weights(w), {});
  }
  fs::path newest = run.path() / "checkpoints/step-000000002/model.safetensors";
  fs::resize_file(newest, fs::file_size(newest) - 2);  // as a save killed half-way would leave it
  ::testing::internal::CaptureStderr();
  auto ck = load_latest_checkpoint(run.path());
  std::string warning = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->step, 1);
  EXPECT_NE(warning.find("skipping damaged checkpoint"), std::string::npos) << warning;
  EXPECT_NE(warning.find("step-000000002"), std::string::npos) << warning;
}

TEST(Checkpoint, LeftoverTemporaryFolderIsNeverTaken) {
  TempDir run;
  std::vector<float> w = {1};
  save_checkpoint(run.path(), 5, weights(w), {});
  fs::create_directories(run.path() / "checkpoints/.tmp-step-000000009-1-1");
  std::ofstream(run.path() / "checkpoints/.tmp-step-000000009-1-1/state.json") << "{}";
  auto ck = load_latest_checkpoint(run.path());
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->step, 5);
}

TEST(Checkpoint, RefusesNonFiniteWeights) {
  TempDir run;
  std::vector<float> w = {1, std::numeric_limits<float>::infinity()};
  try {
    save_checkpoint(run.path(), 3, weights(w), {});
    FAIL() << "saved non-finite weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(list_checkpoints(run.path()).empty());
}

TEST(Checkpoint, KeepsLastKPlusBest) {
  TempDir run;
  std::vector<double> metric = {5, 1, 4, 3, 2, 6};
  for (int step = 1; step <= 6; ++step) {
    std::vector<float> w = {float(step)};
    SaveCheckpointOptions options;
    options.keep_last = 2;
    options.metric = metric[step - 1];
    save_checkpoint(run.path(), step, weights(w), {}, options);
  }
  std::vector<std::string> names;
  for (const auto& p : list_checkpoints(run.path())) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"step-000000002", "step-000000005", "step-000000006"}));
}

TEST(Checkpoint, EmptyRunHasNone) {
  TempDir run;
  EXPECT_FALSE(load_latest_checkpoint(run.path()));
}

}  // namespace
