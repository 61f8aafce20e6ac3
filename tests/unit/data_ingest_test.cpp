// The K-Fashion ingest on hand-written label files and photos: exact captions, crops, every bad-input case reported
// with its reason while the good records are kept, the split, the class cap, and resuming from the journal.
#include "data/kfashion_ingest.h"

#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/log.h"
#include "data/dataset.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::TempDir;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

const char* kExampleCaption =
    "아우터에서 기장은 노말이다. 아우터에서 색상은 화이트이다. 아우터에서 서브색상은 민트이다. "
    "아우터에서 카테고리는 재킷이다. 아우터에서 소매기장은 긴팔이다. 아우터에서 소재에는 트위드이다. "
    "아우터에서 프린트에는 체크이다. 아우터에서 넥라인은 라운드넥이다. 아우터에서 핏은 노멀이다. "
    "원피스에서 카테고리는 드레스이다. 원피스에서 디테일에는 단추이다. 원피스에서 소재에는 우븐이다. "
    "원피스에서 프린트에는 무지이다. 원피스에서 넥라인은 브이넥이다. 원피스에서 핏은 노멀이다.";

json rect(double x, double y, double w, double h) { return json::array({{{"X좌표", x}, {"Y좌표", y}, {"가로", w}, {"세로", h}}}); }
json none() { return json::array({json::object()}); }

json label_file(const std::string& image, const json& labelling, const json& rects, int w = 800, int h = 700) {
  return {{"이미지 정보", {{"이미지 식별자", 1}, {"이미지 높이", h}, {"이미지 파일명", image}, {"이미지 너비", w}}},
          {"데이터셋 정보", {{"데이터셋 상세설명", {{"렉트좌표", rects}, {"폴리곤좌표", json::object()}, {"라벨링", labelling}}}}}};
}

// The example of ../shared/testdata/kfashion/example.json.
json example_label(const std::string& image) {
  json labelling = {
      {"스타일", json::array({{{"스타일", "로맨틱"}}})},
      {"아우터", json::array({{{"기장", "노말"}, {"색상", "화이트"}, {"서브색상", "민트"}, {"카테고리", "재킷"},
                               {"소매기장", "긴팔"}, {"소재", {"트위드"}}, {"프린트", {"체크"}},
                               {"넥라인", "라운드넥"}, {"핏", "노멀"}}})},
      {"하의", none()},
      {"원피스", json::array({{{"카테고리", "드레스"}, {"디테일", {"단추"}}, {"소재", {"우븐"}}, {"프린트", {"무지"}},
                               {"넥라인", "브이넥"}, {"핏", "노멀"}}})},
      {"상의", none()}};
  json rects = {{"아우터", rect(202.5, 68.5, 416, 476)}, {"하의", none()},
                {"원피스", rect(265.5, 73.5, 252, 525)}, {"상의", none()}};
  return label_file(image, labelling, rects);
}

json top_label(const std::string& image, const json& top, const json& top_rect) {
  return label_file(image, {{"스타일", none()}, {"상의", json::array({top})}}, {{"상의", top_rect}});
}

json knit() { return {{"색상", "그레이"}, {"카테고리", "니트웨어"}, {"소재", {"니트", "울"}}}; }

// A grey photo with a red block where the example's garments are (the union of its rectangles).
Image example_photo() {
  Image img = make_image(800, 700, 3, 128);
  for (int y = 68; y < 599; ++y)
    for (int x = 202; x < 619; ++x) img.at(x, y)[0] = 220, img.at(x, y)[1] = 20, img.at(x, y)[2] = 20;
  return img;
}

void write_jpeg(const fs::path& path, const Image& img) {
  std::string bytes;
  stbi_write_jpg_to_func([](void* ctx, void* data, int n) { static_cast<std::string*>(ctx)->append((char*)data, size_t(n)); },
                         &bytes, img.width, img.height, 3, img.pixels.data(), 90);
  write_file_atomic(path, bytes);
}

void put(const fs::path& path, const std::string& bytes) { write_file_atomic(path, bytes); }
void put(const fs::path& path, const json& j) { write_file_atomic(path, j.dump(1)); }

class Ingest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_quiet(true);
    labels = dir / "labels", images = dir / "images", out = dir / "out";
    fs::create_directories(labels / "good");
    fs::create_directories(labels / "bad");
    fs::create_directories(images / "good");
    put(labels / "good/example.json", example_label("example.jpg"));
    write_jpeg(images / "good/example.jpg", example_photo());
    put(labels / "good/knit.json", top_label("knit.png", knit(), rect(100, 50, 300, 400)));
    write_png(images / "knit.png", make_image(500, 600, 3, 90));  // beside no sub-folder: found by the index

    put(labels / "bad/malformed.json", std::string("{\"이미지 정보\": {"));
    put(labels / "bad/cp949.json", std::string("{\"\xB6\xF3\xBA\xA7\": 1}"));  // 라벨 in CP949
    put(labels / "bad/no_labels.json", json{{"이미지 정보", {{"이미지 파일명", "x.jpg"}}}});
    put(labels / "bad/typed.json", top_label("knit.png", {{"색상", 7}}, rect(1, 1, 10, 10)));
    put(labels / "bad/unknown.json", top_label("knit.png", {{"색상", "보라색"}}, rect(1, 1, 10, 10)));
    put(labels / "bad/style_only.json", label_file("knit.png", {{"스타일", json::array({{{"스타일", "모던"}}})}}, {}));
    put(labels / "bad/no_rect.json", top_label("knit.png", knit(), none()));
    put(labels / "bad/no_image.json", top_label("absent.jpg", knit(), rect(1, 1, 10, 10)));
    put(labels / "bad/corrupt.json", top_label("corrupt.png", knit(), rect(1, 1, 10, 10)));
    put(images / "corrupt.png", std::string("\x89PNG\r\n\x1a\n not really"));
    put(labels / "bad/outside.json", top_label("knit.png", knit(), rect(5000, 10, 50, 50)));
    put(labels / "bad/zero_size.json", top_label("knit.png", knit(), rect(10, 10, 0, 50)));
  }

  IngestOptions options() const {
    IngestOptions o;
    o.labels_dir = labels, o.images_dir = images, o.out_dir = out;
    o.size = 32, o.test_fraction = 0, o.threads = 2;
    return o;
  }

  std::vector<json> skipped() const {
    std::vector<json> lines;
    std::ifstream in(out / "skipped.jsonl");
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }

  DatasetRecord record_from(const std::string& source, const std::string& part = "all") const {
    Dataset ds = Dataset::open(out, "train");
    for (int64_t i = 0; i < ds.size(); ++i)
      if (DatasetRecord r = ds.record(i); r.source == source && r.part == part) return r;
    ADD_FAILURE() << "no record from " << source << " part " << part;
    return {};
  }

  TempDir dir;
  fs::path labels, images, out;
};

}  // namespace

TEST_F(Ingest, EveryBadFileIsReportedWithItsReasonAndTheGoodOnesAreKept) {
  IngestReport r = ingest_kfashion(options());
  EXPECT_EQ(r.label_files, 13);
  EXPECT_EQ(r.records[0], 2);
  EXPECT_EQ(r.records[1], 0);
  std::map<std::string, int64_t> expected = {
      {"malformed JSON", 1}, {"non-UTF-8 text", 1}, {"missing 라벨링", 1}, {"malformed label", 1},
      {"unknown attribute value", 1}, {"no labelled garment", 1}, {"missing rectangle", 1},
      {"missing image", 1}, {"unreadable image", 1}, {"bad rectangle", 2}};
  EXPECT_EQ(r.skipped, expected);
  auto lines = skipped();
  ASSERT_EQ(lines.size(), 11u);
  std::map<std::string, std::string> reason_of;
  for (const auto& l : lines) reason_of[l["file"]] = l["reason"];
  EXPECT_EQ(reason_of["bad/outside.json"], "bad rectangle");
  EXPECT_EQ(reason_of["bad/zero_size.json"], "bad rectangle");
  EXPECT_EQ(reason_of["bad/cp949.json"], "non-UTF-8 text");
  EXPECT_EQ(reason_of["bad/corrupt.json"], "unreadable image");
  std::string table = format_report(r);
  EXPECT_NE(table.find(" 2 -> 2 records (train 2, test 0)"), std::string::npos) << table;
  EXPECT_NE(table.find("missing image"), std::string::npos);
  json info = json::parse(read_file(out / "dataset.json"));
  EXPECT_EQ(info["counts"]["skipped"]["bad rectangle"], 2);
  EXPECT_EQ(info["splits"]["train"]["count"], 2);
}

TEST_F(Ingest, ExampleGivesTheExactCaptionsAndAPaddedCrop) {
  ingest_kfashion(options());
  DatasetRecord r = record_from("good/example.json");
  EXPECT_EQ(r.id, "good/example");
  ASSERT_EQ(r.captions.size(), 2u);
  EXPECT_EQ(r.captions[0], kExampleCaption);
  EXPECT_EQ(r.captions[1], "스타일은 로맨틱이다. 아우터는 화이트 색상의 재킷이다. 원피스는 드레스이다.");
  EXPECT_EQ(r.main_part, "아우터");  // the larger rectangle
  EXPECT_EQ(r.category, "재킷");
  EXPECT_EQ(r.colour, "화이트");
  EXPECT_EQ(r.sub_colour, "민트");
  EXPECT_EQ(r.print, "체크");
  EXPECT_EQ(r.attributes["스타일"]["스타일"], "로맨틱");
  EXPECT_EQ(r.attributes["원피스"]["디테일"], json::array({"단추"}));
  // The union of the rectangles (417 x 531) is taller than wide: white bars left and right, red inside.
  Dataset ds = Dataset::open(out, "train");
  Image crop = ds.image_copy(r.index);
  EXPECT_EQ(crop.at(0, 16)[1], 255);
  EXPECT_GT(crop.at(16, 16)[0], 180);
  EXPECT_LT(crop.at(16, 16)[1], 60);
}

TEST_F(Ingest, KodalleCompatKeepsTheLastListValue) {
  IngestOptions o = options();
  ingest_kfashion(o);
  EXPECT_EQ(record_from("good/knit.json").captions[0],
            "상의에서 색상은 그레이이다. 상의에서 카테고리는 니트웨어이다. 상의에서 소재에는 니트, 울이다.");
  o.captions.compat = kfashion::CaptionCompat::kodalle;
  o.captions.keep_style = true;
  IngestReport r = ingest_kfashion(o);
  EXPECT_EQ(r.reused_files, 0);  // other settings: nothing reused
  EXPECT_EQ(record_from("good/knit.json").captions[0],
            "상의에서 색상은 그레이이다. 상의에서 카테고리는 니트웨어이다. 상의에서 소재에는 울이다.");
  EXPECT_EQ(record_from("good/example.json").captions[0].rfind("스타일에서 스타일은 로맨틱이다. 아우터에서", 0), 0u);
}

TEST_F(Ingest, PartCropsCarryOnlyTheirOwnSentences) {
  IngestOptions o = options();
  o.crop = CropMode::part;
  IngestReport r = ingest_kfashion(o);
  EXPECT_EQ(r.records[0], 3);  // 아우터 and 원피스 of the example, the knit
  DatasetRecord dress = record_from("good/example.json", "원피스");
  EXPECT_EQ(dress.captions[0],
            "원피스에서 카테고리는 드레스이다. 원피스에서 디테일에는 단추이다. 원피스에서 소재에는 우븐이다. "
            "원피스에서 프린트에는 무지이다. 원피스에서 넥라인은 브이넥이다. 원피스에서 핏은 노멀이다.");
  EXPECT_EQ(dress.captions[1], "원피스는 드레스이다.");
  EXPECT_EQ(dress.category, "드레스");
  EXPECT_EQ(dress.print, "무지");
  EXPECT_FALSE(dress.attributes.contains("아우터"));
  EXPECT_EQ(record_from("good/example.json", "아우터").captions[1], "아우터는 화이트 색상의 재킷이다.");
}

TEST_F(Ingest, ClassCapKeepsAFixedShare) {
  fs::remove_all(labels / "bad");
  put(labels / "good/knit2.json", top_label("knit.png", knit(), rect(100, 50, 300, 400)));
  IngestOptions o = options();
  o.max_per_class = 1;
  IngestReport r = ingest_kfashion(o);
  EXPECT_EQ(r.capped, 1);  // two 니트웨어, one kept
  EXPECT_EQ(r.records[0], 2);
}

TEST_F(Ingest, ReRunResumesAndAddsOnlyWhatIsNew) {
  IngestReport first = ingest_kfashion(options());
  std::string images_before = read_file(out / "train.images"), captions_before = read_file(out / "train.captions.jsonl");
  IngestReport again = ingest_kfashion(options());
  EXPECT_EQ(again.reused_files, 6);  // every file that reached the photo stage
  EXPECT_EQ(again.processed_files, 0);
  EXPECT_EQ(read_file(out / "train.images"), images_before);
  EXPECT_EQ(read_file(out / "train.captions.jsonl"), captions_before);

  put(labels / "good/zz_new.json", top_label("knit.png", knit(), rect(10, 10, 200, 200)));
  IngestReport added = ingest_kfashion(options());
  EXPECT_EQ(added.reused_files, 6);
  EXPECT_EQ(added.processed_files, 1);
  EXPECT_EQ(added.records[0], 3);

  // The missing photo appears: that file and everything after it in the journal is redone.
  write_png(images / "absent.jpg", make_image(800, 700, 3, 30));  // a PNG under a .jpg name decodes all the same
  IngestReport fixed = ingest_kfashion(options());
  EXPECT_EQ(fixed.reused_files, 1);  // bad/corrupt.json comes before bad/no_image.json
  EXPECT_EQ(fixed.records[0], 4);
  EXPECT_EQ(fixed.skipped.count("missing image"), 0u);
  EXPECT_EQ(Dataset::open(out, "train").size(), 4);
}

TEST(IngestSplit, HashSplitIsStableAndFolderSplitFollowsTheFolders) {
  EXPECT_EQ(split_of("Training/로맨틱/1070263.json", 0.05, SplitMode::folder), "train");
  EXPECT_EQ(split_of("Validation/로맨틱/1070263.json", 0.05, SplitMode::folder), "test");
  EXPECT_EQ(split_of("test/fmnist-test-00001.json", 0.05, SplitMode::folder), "test");
  // By hash of the file id (its name): the folder does not matter, and about the fraction goes to test.
  int test = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string name = std::to_string(1000000 + i) + ".json";
    std::string split = split_of("a/" + name, 0.05, SplitMode::hash);
    EXPECT_EQ(split, split_of("b/c/" + name, 0.05, SplitMode::hash));
    test += split == "test";
  }
  EXPECT_NEAR(test / 20000.0, 0.05, 0.006);
  // Fixed values: the same on every machine and run.
  EXPECT_EQ(split_of("1000000.json", 0.5, SplitMode::hash), split_of("x/1000000.json", 0.5, SplitMode::hash));
}
