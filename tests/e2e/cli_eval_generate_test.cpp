// The evaluation as an ML engineer runs it: prepare a small Couture-FMNIST, train a judge (and resume it), then
// evaluate the default bundle on a few test captions with the bundle's own judge and with the one just trained.
// Nothing about quality is asserted here (a few captions say little): the figures are produced, in range,
// reproducible from the seed, and bad requests are one clear error line.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "io/image.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::read_file;
using couture::write_file_atomic;
using couture::testing::last_json_line;
using couture::testing::run_command;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kBin = COUTURE_BINARY + std::string(" --threads 1");
const fs::path kBundle = fs::path(COUTURE_SOURCE_DIR) / "models/default";

void expect_rate(const nlohmann::json& j, const std::string& key) {
  ASSERT_TRUE(j.contains(key)) << key;
  EXPECT_GE(j[key].get<double>(), 0.0) << key;
  EXPECT_LE(j[key].get<double>(), 1.0) << key;
}

class EvalGenerate : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    if (!fs::exists(kBundle / "judge.safetensors")) GTEST_SKIP() << "models/default has no judge";
    data_ = (dir_ / "data").string();
    auto prep = run_command(kBin + " prepare fmnist --limit 60 --size 64 --out " + data_);
    ASSERT_EQ(prep.status, 0) << prep.output;
  }
  std::string eval(const std::string& extra) {
    return kBin + " eval generate --model " + kBundle.string() + " --dataset " + data_ + " " + extra;
  }
  TempDir dir_;
  std::string data_;
};

TEST_F(EvalGenerate, TrainJudgeThenEvaluateTheDefaultBundle) {
  // A judge of our own, a few steps, resumed.
  const std::string train = kBin + " train judge --dataset " + data_ + " --out " + (dir_ / "judge").string() +
                            " --widths 8 16 --batch 16 --checkpoint-every 2 --validate-every 2 --log-every 1";
  auto first = run_command(train + " --steps 2");
  ASSERT_EQ(first.status, 0) << first.output;
  auto again = run_command(train + " --steps 4");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("resuming from step 2"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("test accuracy"), std::string::npos) << again.output;
  for (const char* f : {"judge.safetensors", "loss.png", "metrics.jsonl", "run.json"})
    EXPECT_TRUE(fs::exists(dir_ / "judge" / f)) << f;
  std::ifstream metrics(dir_ / "judge/metrics.jsonl");
  int validations = 0;
  for (std::string l; std::getline(metrics, l);) {
    auto j = nlohmann::json::parse(l);
    if (!j.contains("val_loss")) continue;
    ++validations;
    for (const char* k : {"val_category_acc", "val_colour_acc", "val_print_acc", "val_all_acc"}) expect_rate(j, k);
  }
  EXPECT_GE(validations, 2);

  // The default bundle with its own judge, 3 captions x 4 candidates.
  const std::string out = (dir_ / "ev").string();
  auto r = run_command(eval("--prompts 3 -n 4 --top 2 --seed 5 --out " + out));
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = last_json_line(r.output);
  EXPECT_EQ(j["prompts"], 3);
  EXPECT_EQ(j["n"], 4);
  EXPECT_EQ(j["top"], 2);
  for (const char* who : {"ceiling_", "tokenized_", "top1_", "topk_", "randomk_"})
    for (const char* what : {"category", "colour", "print", "all"}) expect_rate(j, std::string(who) + what);
  for (const char* k : {"fd_generated", "fd_real_train", "diversity", "score_kept", "score_all"}) {
    ASSERT_TRUE(j[k].is_number()) << k << " in " << j.dump();
    EXPECT_TRUE(std::isfinite(j[k].get<double>())) << k;
  }
  EXPECT_GE(j["fd_generated"].get<double>(), 0.0);
  EXPECT_GT(j["diversity"].get<double>(), 0.0) << "4 candidates of one caption came out identical";
  EXPECT_GE(j["score_kept"].get<double>(), j["score_all"].get<double>()) << "the kept ones are the best scored";
  EXPECT_NE(r.output.find("| top-1 of 4 (reranked) |"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "ev/result.md"));
  auto saved = nlohmann::json::parse(std::ifstream(dir_ / "ev/result.json"));
  EXPECT_EQ(saved["top1_colour"], j["top1_colour"]);
  // The figure: 3 rows of (real image + 2 kept) 64 px tiles.
  auto grid = couture::read_image(dir_ / "ev/grid.png");
  EXPECT_GE(grid.width, 3 * 64);
  EXPECT_GE(grid.height, 3 * 64);
  EXPECT_LT(grid.height, 4 * 64);

  // Same seed, same figures; the judge just trained works as well.
  auto repeat = last_json_line(run_command(eval("--prompts 3 -n 4 --top 2 --seed 5 --out " + out)).output);
  for (const char* k : {"top1_all", "topk_colour", "randomk_category", "fd_generated", "diversity", "score_kept"})
    EXPECT_EQ(repeat[k], j[k]) << k;
  auto own = run_command(eval("--prompts 2 -n 2 --top 1 --grid-rows 0 --judge " + (dir_ / "judge").string() +
                              " --out " + (dir_ / "ev2").string()));
  ASSERT_EQ(own.status, 0) << own.output;
  EXPECT_EQ(last_json_line(own.output)["prompts"], 2);
  EXPECT_FALSE(fs::exists(dir_ / "ev2/grid.png"));
}

// Hand-written prompts with the attributes they ask for: each is graded against its own attributes, bad lines are
// skipped and reported, the repository's free-form set reads whole.
TEST_F(EvalGenerate, PromptsFileGradesEachPromptByItsOwnAttributes) {
  const fs::path file = dir_ / "prompts.jsonl";
  write_file_atomic(file,
                    "# a comment\n"
                    "{\"prompt\": \"빨간 줄무늬 티셔츠\", \"category\": \"티셔츠\", \"colour\": \"레드\", "
                    "\"print\": \"스트라이프\"}\n"
                    "not json\n"
                    "{\"prompt\": \"남색 셔츠\", \"category\": \"셔츠\", \"colour\": \"네이비\", \"print\": \"무지\"}\n"
                    "{\"prompt\": \"x\", \"category\": \"셔츠\"}\n");
  const std::string out = (dir_ / "ev-file").string();
  auto r = run_command(eval("--prompts-file " + file.string() + " -n 2 --top 1 --out " + out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 lines of " + file.string() + " skipped, first: " + file.string() + " line 3"),
            std::string::npos)
      << r.output;
  auto j = last_json_line(r.output);
  EXPECT_EQ(j["prompts"], 2);
  expect_rate(j, "top1_all");
  EXPECT_TRUE(fs::exists(fs::path(out) / "grid.png"));
  auto md = read_file(fs::path(out) / "result.md");
  EXPECT_NE(md.find("빨간 줄무늬 티셔츠 (티셔츠, 레드, 스트라이프)"), std::string::npos) << md;

  const auto freeform = fs::path(COUTURE_SOURCE_DIR) / "data/eval/freeform-ko.jsonl";
  auto set = run_command(
      eval("--prompts-file " + freeform.string() + " -n 1 --top 1 --grid-rows 0 --out " + (dir_ / "ev-set").string()));
  ASSERT_EQ(set.status, 0) << set.output;
  EXPECT_GE(last_json_line(set.output)["prompts"].get<int>(), 50);
  EXPECT_EQ(set.output.find("skipped"), std::string::npos) << set.output;

  const fs::path empty = dir_ / "empty.jsonl";
  write_file_atomic(empty, "# nothing\n");
  auto bad = run_command(eval("--prompts-file " + empty.string() + " --out " + (dir_ / "bad").string()));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("no usable prompt"), std::string::npos) << bad.output;
}

// Candidates kept by one evaluation are ranked again by `eval rerank`: with the bundle's own reranker and weight the
// new top 1 and top k are exactly the evaluation's; another weight ranks the same candidates differently, never
// beyond the best of n; a file that is not candidates is one clear line.
TEST_F(EvalGenerate, SavedCandidatesRankAgainAsTheGeneratorRanked) {
  const fs::path out = dir_ / "ev-saved";
  auto r = run_command(eval("--prompts 3 -n 4 --top 2 --seed 5 --grid-rows 0 --save-candidates --out " + out.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  auto generated = last_json_line(r.output);
  ASSERT_TRUE(fs::exists(out / "candidates.safetensors")) << r.output;
  const std::string rerank = kBin + " eval rerank --model " + kBundle.string() + " --candidates " +
                             (out / "candidates.safetensors").string();
  auto same = run_command(rerank + " --out " + (dir_ / "rr").string());
  ASSERT_EQ(same.status, 0) << same.output;
  auto j = last_json_line(same.output);
  EXPECT_EQ(j["prompts"], 3);
  EXPECT_EQ(j["top"], 2);
  for (const char* what : {"category", "colour", "print", "all"}) {
    const std::string w = what;
    EXPECT_EQ(j["top1_" + w], generated["top1_" + w]) << w;
    EXPECT_EQ(j["saved_top1_" + w], generated["top1_" + w]) << w;
    EXPECT_EQ(j["topk_" + w], generated["topk_" + w]) << w;
    EXPECT_EQ(j["any_" + w], generated["any_" + w]) << w;
  }
  EXPECT_TRUE(fs::exists(dir_ / "rr/result.md"));
  auto other =
      last_json_line(run_command(rerank + " --attribute-weight 5 --top 1 --out " + (dir_ / "rr2").string()).output);
  EXPECT_EQ(other["top"], 1);
  for (const char* what : {"category", "colour", "print", "all"}) {
    expect_rate(other, std::string("top1_") + what);
    EXPECT_LE(other[std::string("top1_") + what].get<double>(), other[std::string("any_") + what].get<double>());
  }
  auto bad = run_command(kBin + " eval rerank --model " + kBundle.string() + " --candidates " +
                         (kBundle / "clip.safetensors").string() + " --out " + (dir_ / "rr3").string());
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("not candidates written by"), std::string::npos) << bad.output;
}

// The same judge grades the bundle's image tokenizer: originals vs their reconstructions.
TEST_F(EvalGenerate, EvalVqganWithTheJudge) {
  auto r = run_command(kBin + " eval vqgan --vqgan " + (kBundle / "vqgan.safetensors").string() + " --dataset " +
                       data_ + " --limit 20 --judge " + (kBundle / "judge.safetensors").string());
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = last_json_line(r.output);
  for (const char* who : {"judge_original_", "judge_recon_"})
    for (const char* what : {"category", "colour", "print", "all"}) expect_rate(j, std::string(who) + what);
  EXPECT_NE(r.output.find("| reconstructions |"), std::string::npos) << r.output;
}

TEST_F(EvalGenerate, BadRequestsAreOneClearLine) {
  auto expect_error = [&](const std::string& args, const std::string& says) {
    auto r = run_command(eval(args + " --out " + (dir_ / "bad").string()));
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
  };
  expect_error("--prompts 2 -n 0", "n must be");
  expect_error("--prompts 2 --judge " + (kBundle / "clip.safetensors").string(), "not a judge");
  expect_error("--prompts 2 --judge " + (dir_ / "nowhere").string(), "not found");
  auto r = run_command(kBin + " eval generate --model " + kBundle.string() + " --dataset " +
                       (dir_ / "missing").string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find((dir_ / "missing").string()), std::string::npos) << r.output;
}

}  // namespace
