// `couture prepare` as a user runs it: Couture-FMNIST on a subset (counts, captions, sample grid, resume), and
// K-Fashion on hand-written labels with every kind of bad input (reported in the table and skipped.jsonl, the good
// records kept, a re-run resumes), and the one-line errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "data/dataset.h"
#include "data/fmnist.h"
#include "io/image.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::run_command;
using couture::testing::TempDir;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::string couture_cmd(const std::string& args) { return std::string(COUTURE_BINARY) + " " + args; }

// The number in the report row that starts with `label`.
long long row_value(const std::string& output, const std::string& label) {
  auto at = output.find("  " + label);
  if (at == std::string::npos) return -1;
  return std::stoll(output.substr(at + 2 + label.size()));
}

std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

std::string top_label(const std::string& image, const std::string& top, const std::string& rect) {
  return R"({"이미지 정보": {"이미지 파일명": ")" + image + R"(", "이미지 너비": 120, "이미지 높이": 160},
    "데이터셋 정보": {"데이터셋 상세설명": {"렉트좌표": {"상의": [)" + rect + R"(]},
    "라벨링": {"스타일": [{"스타일": "스트리트"}], "상의": [)" + top + "]}}}}";
}

const char* kTop = R"({"색상": "네이비", "카테고리": "셔츠", "소재": ["면", "린넨"], "프린트": ["스트라이프"]})";
const char* kRect = R"({"X좌표": 10, "Y좌표": 20, "가로": 80, "세로": 100})";

}  // namespace

TEST(CliPrepare, FmnistSubsetBecomesADatasetAndAReRunResumes) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  TempDir dir;
  fs::path out = dir / "fmnist";
  auto r = run_command(couture_cmd("prepare fmnist --out " + out.string() + " --limit 200 --size 32 --seed 3"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(train 200, test 200)"), std::string::npos) << r.output;
  EXPECT_EQ(row_value(r.output, "skipped"), 0) << r.output;

  // The intermediate K-Fashion folder, and Fashion-MNIST's own split kept.
  EXPECT_EQ(std::distance(fs::directory_iterator(out / "source/labels/train"), fs::directory_iterator()), 200);
  Dataset train = Dataset::open(out, "train"), test = Dataset::open(out, "test");
  ASSERT_EQ(train.size(), 200);
  ASSERT_EQ(test.size(), 200);
  EXPECT_EQ(train.height(), 32);
  for (int64_t i = 0; i < train.size(); i += 37) {
    DatasetRecord rec = train.record(i);
    EXPECT_EQ(rec.source.rfind("train/fmnist-train-", 0), 0u) << rec.source;
    EXPECT_EQ(rec.captions[0].rfind(rec.main_part + "에서 색상은 " + rec.colour + "이다.", 0), 0u) << rec.captions[0];
    EXPECT_NE(rec.captions[0].find("카테고리는 " + rec.category + "이다."), std::string::npos) << rec.captions[0];
    EXPECT_EQ(rec.captions[1], rec.main_part + "는 " + rec.colour + " 색상의 " + rec.category + "이다.");
    ImageView img = train.image(i);
    EXPECT_EQ(img.data[0], 255);  // a white corner
  }
  EXPECT_EQ(test.record(0).source.rfind("test/", 0), 0u);
  Image grid = read_image(out / "samples.png");
  EXPECT_EQ(grid.width, 8 * 32 + 9 * 2);

  auto again = run_command(couture_cmd("prepare fmnist --out " + out.string() + " --limit 200 --size 32 --seed 3"));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("train 0 drawn + 200 reused"), std::string::npos) << again.output;
  EXPECT_EQ(row_value(again.output, "reused from an earlier run"), 400) << again.output;
  EXPECT_EQ(row_value(again.output, "processed in this run"), 0) << again.output;

  // A smaller --limit keeps the drawings and leaves out the garments no longer chosen.
  auto fewer = run_command(couture_cmd("prepare fmnist --out " + out.string() + " --limit 50 --size 32 --seed 3"));
  ASSERT_EQ(fewer.status, 0) << fewer.output;
  EXPECT_NE(fewer.output.find("train 0 drawn + 50 reused"), std::string::npos) << fewer.output;
  EXPECT_NE(fewer.output.find("(train 50, test 50)"), std::string::npos) << fewer.output;
}

TEST(CliPrepare, KFashionKeepsTheGoodRecordsAndReportsEachBadOne) {
  TempDir dir;
  fs::path labels = dir / "labels", images = dir / "images", out = dir / "dataset";
  fs::create_directories(labels);
  fs::create_directories(images);
  Image photo = make_image(120, 160, 3, 200);
  write_png(images / "shirt.png", photo);
  write_png(images / "shirt2.png", photo);
  write_file_atomic(labels / "a_good.json", top_label("shirt.png", kTop, kRect));
  write_file_atomic(labels / "b_good.json", top_label("shirt2.png", kTop, kRect));
  write_file_atomic(labels / "c_malformed.json", std::string("{\"라벨링\": [}"));
  write_file_atomic(labels / "d_latin1.json", std::string("{\"caf\xE9\": 1}"));
  write_file_atomic(labels / "e_no_labels.json", std::string(R"({"데이터셋 정보": {"데이터셋 상세설명": {}}})"));
  write_file_atomic(labels / "f_no_image.json", top_label("gone.png", kTop, kRect));
  write_file_atomic(images / "broken.png", std::string("not an image"));
  write_file_atomic(labels / "g_broken_image.json", top_label("broken.png", kTop, kRect));
  write_file_atomic(labels / "h_outside.json", top_label("shirt.png", kTop, R"({"X좌표": 500, "Y좌표": 20, "가로": 80, "세로": 100})"));
  write_file_atomic(labels / "i_zero.json", top_label("shirt.png", kTop, R"({"X좌표": 10, "Y좌표": 20, "가로": 0, "세로": 0})"));
  write_file_atomic(labels / "j_unknown.json", top_label("shirt.png", R"({"색상": "형광분홍"})", kRect));

  std::string cmd = couture_cmd("prepare kfashion --labels " + labels.string() + " --images " + images.string() +
                                " --out " + out.string() + " --size 48 --test-fraction 0");
  auto r = run_command(cmd);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(row_value(r.output, "label files read"), 10) << r.output;
  EXPECT_NE(r.output.find("2 -> 2 records (train 2, test 0)"), std::string::npos) << r.output;
  EXPECT_EQ(row_value(r.output, "skipped"), 8) << r.output;
  for (const char* reason : {"malformed JSON", "non-UTF-8 text", "missing 라벨링", "missing image", "unreadable image",
                             "unknown attribute value"})
    EXPECT_EQ(row_value(r.output, "  " + std::string(reason)), 1) << reason << "\n" << r.output;
  EXPECT_EQ(row_value(r.output, "  bad rectangle"), 2) << r.output;

  auto skipped = read_jsonl(out / "skipped.jsonl");
  ASSERT_EQ(skipped.size(), 8u);
  EXPECT_EQ(skipped[0]["file"], "c_malformed.json");
  EXPECT_EQ(skipped[0]["reason"], "malformed JSON");
  EXPECT_EQ(skipped[7]["file"], "j_unknown.json");
  EXPECT_NE(skipped[7]["detail"].get<std::string>().find("형광분홍"), std::string::npos);

  Dataset ds = Dataset::open(out, "train");
  ASSERT_EQ(ds.size(), 2);
  DatasetRecord rec = ds.record(0);
  EXPECT_EQ(rec.source, "a_good.json");
  EXPECT_EQ(rec.captions[0], "상의에서 색상은 네이비이다. 상의에서 카테고리는 셔츠이다. 상의에서 소재에는 면, 린넨이다. "
                             "상의에서 프린트에는 스트라이프이다.");
  EXPECT_EQ(rec.captions[1], "스타일은 스트리트이다. 상의는 네이비 색상의 셔츠이다.");
  EXPECT_EQ(rec.print, "스트라이프");
  json info = json::parse(read_file(out / "dataset.json"));
  EXPECT_EQ(info["format"], "couture-dataset");
  EXPECT_EQ(info["settings"]["size"], 48);

  auto again = run_command(cmd);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(row_value(again.output, "reused from an earlier run"), 6) << again.output;
  EXPECT_EQ(row_value(again.output, "processed in this run"), 0) << again.output;
  EXPECT_EQ(Dataset::open(out, "train").size(), 2);
}

TEST(CliPrepare, BadArgumentsGiveOneErrorLine) {
  TempDir dir;
  auto r = run_command(couture_cmd("prepare kfashion --labels " + (dir / "nowhere").string() + " --images " +
                                   dir.path().string() + " --out " + (dir / "o").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("couture: error: --labels"), std::string::npos) << r.output;
  auto f = run_command(couture_cmd("prepare fmnist --out " + (dir / "f").string() + " --fashion-mnist " +
                                   (dir / "nowhere").string()));
  EXPECT_EQ(f.status, 1);
  EXPECT_NE(f.output.find("couture: error: Fashion-MNIST not found"), std::string::npos) << f.output;
  EXPECT_NE(f.output.find("dataset-fashion-mnist"), std::string::npos) << f.output;
  auto help = run_command(couture_cmd("prepare kfashion --help"));
  EXPECT_NE(help.output.find("--test-fraction FLOAT:FLOAT in [0 - 1]=0.05"), std::string::npos) << help.output;
}
