// The gallery as a designer relies on it: jobs stay across reopening, search by words and attributes, favourites,
// paging newest first, delete; and a crash at any point of a write or a delete never leaves a half job listed nor
// brings a deleted one back.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "serve/gallery.h"
#include "support/temp_dir.h"

namespace couture {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

json record(const std::string& id, double created, const std::string& prompt, const std::string& category = "",
            const std::string& colour = "", const std::string& print = "") {
  json attributes = json::object();
  if (!category.empty()) attributes["카테고리"] = category;
  if (!colour.empty()) attributes["색상"] = colour;
  if (!print.empty()) attributes["프린트"] = json::array({print});
  return {{"id", id},
          {"created", created},
          {"prompt", prompt},
          {"understood", {{"attributes", attributes}}},
          {"results", json::array({{{"rank", 0}, {"seed", 7}, {"score", 0.5}, {"codes", {1, 2, 3}}},
                                   {{"rank", 1}, {"seed", 8}, {"score", 0.4}, {"codes", {4, 5, 6}}}})}};
}

std::vector<std::string> ids(const GalleryPage& page) {
  std::vector<std::string> out;
  for (const auto& item : page.items) out.push_back(item["id"]);
  return out;
}

TEST(Gallery, KeepsJobsAcrossReopeningAndFindsThem) {
  TempDir dir;
  {
    Gallery g(dir.path());
    g.add(record("00000000000000a1", 100, "빨간 줄무늬 티셔츠", "티셔츠", "레드", "스트라이프"), {"png0", "png1"},
          "sheet");
    g.add(record("00000000000000a2", 200, "남색 셔츠", "셔츠", "네이비"), {"png0"}, "sheet");
    g.add(record("00000000000000a3", 300, "노란 땡땡이 원피스", "드레스", "옐로우", "도트"), {"png0"}, "sheet");
  }
  Gallery g(dir.path());  // a restart
  EXPECT_EQ(g.size(), 3);
  EXPECT_EQ(ids(g.list({})), (std::vector<std::string>{"00000000000000a3", "00000000000000a2", "00000000000000a1"}));
  EXPECT_EQ(g.png("00000000000000a1", 1), "png1");
  EXPECT_EQ(g.contact_sheet("00000000000000a1"), "sheet");
  EXPECT_FALSE(g.png("00000000000000a1", 2));
  EXPECT_FALSE(g.png("../../etc/passwd", 0));
  // The record comes back whole (codes too, for variations); a page leaves the codes out.
  EXPECT_EQ((*g.get("00000000000000a1"))["results"][1]["codes"], json({4, 5, 6}));
  EXPECT_FALSE(g.list({}).items[0]["results"][0].contains("codes"));

  GalleryQuery words;
  words.text = "줄무늬 티셔츠";
  EXPECT_EQ(ids(g.list(words)), std::vector<std::string>{"00000000000000a1"});
  words.text = "100%_";  // LIKE's wildcards are matched literally
  EXPECT_EQ(g.list(words).total, 0);
  GalleryQuery colour;
  colour.colour = "네이비";
  EXPECT_EQ(ids(g.list(colour)), std::vector<std::string>{"00000000000000a2"});
  GalleryQuery print;
  print.print = "도트";
  EXPECT_EQ(ids(g.list(print)), std::vector<std::string>{"00000000000000a3"});

  GalleryQuery page;
  page.limit = 2, page.offset = 2;
  auto second = g.list(page);
  EXPECT_EQ(second.total, 3);
  EXPECT_EQ(ids(second), std::vector<std::string>{"00000000000000a1"});

  EXPECT_TRUE(g.set_favourite("00000000000000a2", true));
  EXPECT_FALSE(g.set_favourite("00000000000000ff", true));
  GalleryQuery favourites;
  favourites.favourites = true;
  EXPECT_EQ(ids(g.list(favourites)), std::vector<std::string>{"00000000000000a2"});
  EXPECT_EQ((*g.get("00000000000000a2"))["favourite"], true);

  EXPECT_TRUE(g.remove("00000000000000a2"));
  EXPECT_FALSE(g.remove("00000000000000a2"));
  EXPECT_FALSE(g.get("00000000000000a2"));
  EXPECT_FALSE(fs::exists(dir / "jobs/00000000000000a2"));
  Gallery again(dir.path());
  EXPECT_EQ(again.size(), 2);
}

TEST(Gallery, RecoversFromACrashAtAnyPoint) {
  TempDir dir;
  {
    Gallery g(dir.path());
    g.add(record("00000000000000b1", 100, "블랙 코트"), {"png"}, "sheet");
    g.add(record("00000000000000b2", 200, "레드 팬츠"), {"png"}, "sheet");
  }
  // A write killed before its rename: a temporary folder, never listed, removed on opening.
  fs::create_directories(dir / "jobs/.tmp-00000000000000b3-1");
  std::ofstream(dir / "jobs/.tmp-00000000000000b3-1/rank-00.png") << "half";
  // A write killed between the rename and the insert: a whole folder without a row, indexed on opening.
  fs::create_directories(dir / "jobs/00000000000000b4");
  std::ofstream(dir / "jobs/00000000000000b4/job.json") << record("00000000000000b4", 400, "그린 셔츠").dump();
  std::ofstream(dir / "jobs/00000000000000b4/rank-00.png") << "png4";
  // A delete killed after moving the folder aside: the row goes, the folder is not brought back.
  fs::rename(dir / "jobs/00000000000000b1", dir / "jobs/.trash-00000000000000b1-1");
  // A folder with a torn record is not a job.
  fs::create_directories(dir / "jobs/00000000000000b5");
  std::ofstream(dir / "jobs/00000000000000b5/job.json") << "{\"id\": \"00000000";

  Gallery g(dir.path());
  EXPECT_EQ(ids(g.list({})), (std::vector<std::string>{"00000000000000b4", "00000000000000b2"}));
  EXPECT_EQ(g.png("00000000000000b4", 0), "png4");
  for (const char* gone : {".tmp-00000000000000b3-1", ".trash-00000000000000b1-1", "00000000000000b5"})
    EXPECT_FALSE(fs::exists(dir / "jobs" / gone)) << gone;
}

TEST(Gallery, AFolderThatIsNotAGalleryIsOneClearError) {
  TempDir dir;
  std::ofstream(dir / "file") << "x";
  try {
    Gallery g(dir / "file");
    FAIL() << "a file opened as a gallery";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--data"), std::string::npos) << e.what();
  }
  fs::create_directories(dir / "notsqlite/jobs");
  std::ofstream(dir / "notsqlite/gallery.sqlite3") << std::string(4096, 'x');
  try {
    Gallery g(dir / "notsqlite");
    FAIL() << "a corrupt index opened";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("gallery.sqlite3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace couture
