// `couture generate` end to end on a tiny random bundle: the files a designer gets, what their PNG text says, rank
// order, reproducibility (same seed -> same images; candidate i is seed + i whatever N is), prompt files, and the
// one-line errors for bad options and bad bundles; attribute reranking (`couture bundle --update` setting its
// weight, each candidate's score the similarity plus the weight times its attributes' log-probabilities).
#include <gtest/gtest.h>

#include <filesystem>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "generate/bundle.h"
#include "io/image.h"
#include "support/run_command.h"
#include "support/temp_dir.h"
#include "support/tiny_bundle.h"

namespace fs = std::filesystem;
using couture::testing::run_command;

namespace {

const char* kPrompt = "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다.";

std::string generate(const fs::path& bundle, const fs::path& out, const std::string& args) {
  return std::string(COUTURE_BINARY) + " generate --model " + bundle.string() + " --out " + out.string() + " " + args;
}

nlohmann::json last_json_line(const std::string& output) {
  auto end = output.find_last_not_of('\n');
  auto start = output.rfind('\n', end);
  return nlohmann::json::parse(output.substr(start == std::string::npos ? 0 : start + 1, end - start));
}

}  // namespace

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new couture::testing::TempDir();
    bundle_ = couture::testing::make_tiny_bundle(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }
  static couture::testing::TempDir* dir_;
  static fs::path bundle_;
};
couture::testing::TempDir* GenerateTest::dir_ = nullptr;
fs::path GenerateTest::bundle_;

TEST_F(GenerateTest, WritesRankedCandidatesWithTheirSettings) {
  const fs::path out = dir_->path() / "a";
  auto r = run_command(generate(bundle_, out, std::string("\"") + kPrompt + "\" -n 6 --top 3 --seed 5"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto summary = last_json_line(r.output);
  ASSERT_EQ(summary["top"].size(), 3u);
  EXPECT_EQ(summary["prompt"], kPrompt);
  EXPECT_TRUE(fs::exists(out / "contact.png"));
  const auto result = nlohmann::json::parse(couture::read_file(out / "result.json"));
  ASSERT_EQ(result["candidates"].size(), 6u);
  for (size_t i = 1; i < 6; ++i)  // best first
    EXPECT_GE(result["candidates"][i - 1]["score"].get<double>(), result["candidates"][i]["score"].get<double>());
  for (int rank = 1; rank <= 3; ++rank) {
    const fs::path png = out / ("rank-0" + std::to_string(rank) + ".png");
    ASSERT_TRUE(fs::exists(png)) << png;
    const auto image = couture::read_image(png);
    EXPECT_EQ(image.width, 16);
    const auto text = couture::read_png_text(png);
    ASSERT_TRUE(text.has_value());
    const auto p = nlohmann::json::parse(*text);
    EXPECT_EQ(p["prompt"], kPrompt);
    EXPECT_EQ(p["rank"], rank - 1);
    EXPECT_EQ(p["seed"].get<uint64_t>(), 5u + p["index"].get<uint64_t>());
    EXPECT_EQ(p["model"], "tiny");
    EXPECT_EQ(p["settings"]["n"], 6);
    EXPECT_DOUBLE_EQ(p["score"].get<double>(), result["candidates"][size_t(rank - 1)]["score"].get<double>());
  }
}

TEST_F(GenerateTest, SameSeedSameImagesAndCandidateIIsSeedPlusI) {
  const fs::path a = dir_->path() / "s1", b = dir_->path() / "s2", c = dir_->path() / "s3";
  const std::string prompt = std::string("\"") + kPrompt + "\"";
  ASSERT_EQ(run_command(generate(bundle_, a, prompt + " -n 4 --top 4 --seed 11")).status, 0);
  ASSERT_EQ(run_command(generate(bundle_, b, prompt + " -n 4 --top 4 --seed 11")).status, 0);
  for (int rank = 1; rank <= 4; ++rank) {
    const std::string name = "rank-0" + std::to_string(rank) + ".png";
    EXPECT_EQ(couture::read_file(a / name), couture::read_file(b / name)) << name;
  }
  // Candidate 2 of seed 11 is seed 13: the same image as the only candidate of a run with seed 13.
  ASSERT_EQ(run_command(generate(bundle_, c, prompt + " -n 1 --top 1 --seed 13")).status, 0);
  const auto result = nlohmann::json::parse(couture::read_file(a / "result.json"));
  std::string with_index_2;
  for (int rank = 1; rank <= 4; ++rank) {
    const std::string name = "rank-0" + std::to_string(rank) + ".png";
    if (nlohmann::json::parse(*couture::read_png_text(a / name))["index"] == 2)
      with_index_2 = name;
  }
  ASSERT_FALSE(with_index_2.empty());
  EXPECT_EQ(couture::read_image(a / with_index_2).pixels, couture::read_image(c / "rank-01.png").pixels);
  // Another seed gives other images.
  EXPECT_NE(couture::read_image(c / "rank-01.png").pixels, couture::read_image(a / "rank-01.png").pixels);
}

// --prompt-as understood: the models read the label template of what the lexicon understood, exactly as if it had
// been typed; result.json says what they read; as typed, the same words give other designs.
TEST_F(GenerateTest, PromptAsUnderstoodReadsTheTemplateCaption) {
  const std::string typed = "빨간 줄무늬 티셔츠";
  const std::string caption = "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다. 상의에서 프린트에는 스트라이프이다.";
  const fs::path a = dir_->path() / "u1", b = dir_->path() / "u2", c = dir_->path() / "u3";
  auto r = run_command(generate(bundle_, a, "\"" + typed + "\" -n 3 --top 3 --seed 3 --prompt-as understood"));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(run_command(generate(bundle_, b, "\"" + caption + "\" -n 3 --top 3 --seed 3")).status, 0);
  ASSERT_EQ(run_command(generate(bundle_, c, "\"" + typed + "\" -n 3 --top 3 --seed 3")).status, 0);
  const auto ra = nlohmann::json::parse(couture::read_file(a / "result.json"));
  const auto rb = nlohmann::json::parse(couture::read_file(b / "result.json"));
  const auto rc = nlohmann::json::parse(couture::read_file(c / "result.json"));
  EXPECT_EQ(ra["prompt"], typed);
  EXPECT_EQ(ra["caption"], caption);
  EXPECT_EQ(ra["settings"]["prompt_as"], "understood");
  EXPECT_FALSE(rb.contains("caption"));  // read as typed: nothing else to say
  for (int rank = 1; rank <= 3; ++rank) {
    const std::string name = "rank-0" + std::to_string(rank) + ".png";
    EXPECT_EQ(couture::read_image(a / name).pixels, couture::read_image(b / name).pixels) << name;
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(ra["candidates"][i], rb["candidates"][i]) << i;
  EXPECT_NE(ra["candidates"], rc["candidates"]) << "the typed prompt was read as the template";
  r = run_command(generate(bundle_, dir_->path() / "u4", "\"" + typed + "\" --prompt-as parsed"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--prompt-as"), std::string::npos) << r.output;
}

TEST_F(GenerateTest, PromptFileWritesOneFolderPerPrompt) {
  const fs::path prompts = dir_->path() / "prompts.txt";
  std::ofstream(prompts) << kPrompt << "\n\n원피스에서 색상은 블루이다.\n";
  const fs::path out = dir_->path() / "batch";
  auto r = run_command(generate(bundle_, out, "--prompt-file " + prompts.string() + " -n 2 --top 1"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "prompt-0001/rank-01.png"));
  EXPECT_TRUE(fs::exists(out / "prompt-0002/rank-01.png"));
  EXPECT_FALSE(fs::exists(out / "prompt-0003"));
}

// A run never mixes its files with an earlier one's; without --seed the seed is random, said, and recorded.
TEST_F(GenerateTest, FreshFoldersOverwriteAndARandomSeedThatIsSaid) {
  const fs::path out = dir_->path() / "again";
  auto first = run_command(generate(bundle_, out, std::string("\"") + kPrompt + "\" -n 3 --top 3"));
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("to " + out.string() + "/"), std::string::npos) << "says where the files went";
  EXPECT_NE(first.output.find("generate 100% "), std::string::npos) << "progress with its total: " << first.output;
  const size_t at = first.output.find("seed ");
  ASSERT_NE(at, std::string::npos) << first.output;
  const uint64_t said = std::stoull(first.output.substr(at + 5));
  EXPECT_NE(first.output.find("--seed " + std::to_string(said) + " makes these designs again"), std::string::npos);
  const auto result = nlohmann::json::parse(couture::read_file(out / "result.json"));
  EXPECT_EQ(result["seed"], said);
  auto second = run_command(generate(bundle_, out, std::string("\"") + kPrompt + "\" -n 3 --top 3"));
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.output.find("holds an earlier run"), std::string::npos) << second.output;
  EXPECT_NE(nlohmann::json::parse(couture::read_file(out / "result.json"))["seed"], nullptr);
  // --overwrite: the earlier run's files go (its rank-03.png would otherwise sit beside a --top 1 result), and
  // what the user put there stays.
  std::ofstream(out / "notes.txt") << "mine";
  auto third = run_command(generate(bundle_, out, std::string("\"") + kPrompt + "\" -n 2 --top 1 --seed 4 --overwrite"));
  ASSERT_EQ(third.status, 0) << third.output;
  EXPECT_TRUE(fs::exists(out / "rank-01.png"));
  EXPECT_FALSE(fs::exists(out / "rank-03.png"));
  EXPECT_TRUE(fs::exists(out / "notes.txt"));
  EXPECT_EQ(nlohmann::json::parse(couture::read_file(out / "result.json"))["seed"], 4);
}

TEST_F(GenerateTest, VariationsKeepTheFirstCodesOfTheInitImage) {
  const fs::path base = dir_->path() / "base", out = dir_->path() / "var";
  ASSERT_EQ(run_command(generate(bundle_, base, std::string("\"") + kPrompt + "\" -n 1 --top 1")).status, 0);
  auto r = run_command(generate(bundle_, out, std::string("\"") + kPrompt + "\" -n 2 --top 2 --init-image " +
                                                  (base / "rank-01.png").string() + " --init-codes 32"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto p = nlohmann::json::parse(*couture::read_png_text(out / "rank-01.png"));
  EXPECT_EQ(p["settings"]["num_init_codes"], 32);
}

TEST_F(GenerateTest, AttributeRerankingAddsTheAskedAttributesLogProbabilities) {
  const fs::path bundle = dir_->path() / "attributes";
  fs::copy(bundle_, bundle);
  couture::update_bundle(bundle, {}, {{"색상", {"레드", "블루", "그린"}}, {"카테고리", {"티셔츠", "드레스"}}}, {});
  auto r = run_command(std::string(COUTURE_BINARY) + " bundle --update " + bundle.string() +
                       " --defaults '{\"attribute_weight\": 3}'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(last_json_line(r.output)["defaults"]["attribute_weight"], 3.0);

  const std::string args = std::string("\"") + kPrompt + "\" -n 6 --top 3 --seed 5";
  r = run_command(generate(bundle, dir_->path() / "plain", args + " --attribute-weight 0"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(generate(bundle, dir_->path() / "weighted", args));  // the bundle's default weight, 3
  ASSERT_EQ(r.status, 0) << r.output;
  const auto plain = nlohmann::json::parse(couture::read_file(dir_->path() / "plain/result.json"));
  const auto weighted = nlohmann::json::parse(couture::read_file(dir_->path() / "weighted/result.json"));
  EXPECT_EQ(weighted["settings"]["attribute_weight"], 3.0);
  std::map<int, double> similarity;
  for (const auto& c : plain["candidates"]) {
    EXPECT_FALSE(c.contains("attributes")) << "weight 0 reads no attributes";
    similarity[c["index"].get<int>()] = c["score"].get<double>();
  }
  ASSERT_EQ(weighted["candidates"].size(), 6u);
  double previous = 1e300;
  for (const auto& c : weighted["candidates"]) {
    ASSERT_TRUE(c.contains("attributes")) << c.dump();
    const auto& a = c["attributes"];
    ASSERT_EQ(a.size(), 2u) << a.dump() << ": category and colour (the prompt asks no print)";
    const double log_p = std::log(a["카테고리"].get<double>()) + std::log(a["색상"].get<double>());
    const double expected = similarity.at(c["index"].get<int>()) + 3 * log_p;
    EXPECT_NEAR(c["score"].get<double>(), expected, 1e-4) << c.dump();
    EXPECT_LE(c["score"].get<double>(), previous) << "best first";
    previous = c["score"].get<double>();
  }
  // The kept PNGs say how they were chosen.
  const auto text = couture::read_png_text(dir_->path() / "weighted/rank-01.png");
  ASSERT_TRUE(text.has_value());
  EXPECT_TRUE(nlohmann::json::parse(*text).contains("attributes"));

  r = run_command(generate(bundle, dir_->path() / "bad-weight", args + " --attribute-weight -1"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("attribute_weight must be 0..10"), std::string::npos) << r.output;
}

TEST_F(GenerateTest, BadOptionsAndBundlesGiveOneClearLine) {
  const fs::path out = dir_->path() / "bad";
  auto r = run_command(generate(bundle_, out, std::string("\"") + kPrompt + "\" -n 0"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("n must be"), std::string::npos) << r.output;

  r = run_command(generate(dir_->path() / "nowhere", out, "\"x\""));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("nowhere"), std::string::npos) << r.output;

  // A truncated model file is named before any work.
  const fs::path broken = dir_->path() / "broken";
  fs::copy(bundle_, broken);
  fs::resize_file(broken / "dalle.safetensors", fs::file_size(broken / "dalle.safetensors") / 2);
  r = run_command(generate(broken, out, "\"x\""));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("dalle.safetensors"), std::string::npos) << r.output;

  // A manifest that points outside its folder is refused.
  auto manifest = nlohmann::json::parse(couture::read_file(broken / "model.json"));
  manifest["vqgan"]["file"] = "../a/rank-01.png";
  couture::write_file_atomic(broken / "model.json", manifest.dump());
  r = run_command(generate(broken, out, "\"x\""));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("plain file name"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}
