// The prepared dataset format and its reader: zero-copy images, records by line, and every malformed file named.
// The batcher: a seeded shuffle that is the same on every run, tensors in [-1, 1], caption choice, exact resume.
#include "data/dataset.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/batcher.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::TempDir;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// n records of H x W x 3; record i is filled with the value i, its captions are "full i" and "short i".
void write_tiny_dataset(const fs::path& dir, int n, int h = 4, int w = 5) {
  ImagesHeader header;
  header.height = uint32_t(h), header.width = uint32_t(w), header.count = uint64_t(n);
  std::string images = encode_images_header(header), captions;
  for (int i = 0; i < n; ++i) {
    images.append(size_t(h) * w * 3, char(i));
    DatasetRecord r;
    r.index = i, r.id = "id" + std::to_string(i), r.source = r.id + ".json", r.part = "all";
    r.captions = {"full " + std::to_string(i), "short " + std::to_string(i)};
    r.category = "티셔츠", r.colour = "레드", r.main_part = "상의";
    r.attributes = {{"상의", {{"색상", "레드"}}}};
    captions += record_to_json(r).dump() + "\n";
  }
  write_file_atomic(dir / "train.images", images);
  write_file_atomic(dir / "train.captions.jsonl", captions);
  json info = {{"format", kDatasetFormat}, {"version", kDatasetVersion}, {"splits", {{"train", {{"count", n}}}}}};
  write_file_atomic(dir / "dataset.json", info.dump());
}

std::string open_error(const fs::path& dir) {
  try {
    Dataset::open(dir, "train");
  } catch (const InputError& e) {
    return e.what();
  }
  return "opened";
}

}  // namespace

TEST(Dataset, HeaderIsSixtyFourLittleEndianBytes) {
  ImagesHeader h;
  h.height = 256, h.width = 128, h.count = 0x0102030405ull;
  std::string bytes = encode_images_header(h);
  ASSERT_EQ(bytes.size(), 64u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("CTRIMGS\0", 8));
  EXPECT_EQ(uint8_t(bytes[8]), 1);                            // version
  EXPECT_EQ(uint8_t(bytes[12]), 0);  // height 256, low byte first
  EXPECT_EQ(uint8_t(bytes[13]), 1);
  EXPECT_EQ(uint8_t(bytes[24]), 0x05);  // count
  EXPECT_EQ(uint8_t(bytes[28]), 0x01);
}

TEST(Dataset, OpensRecordsAndImages) {
  TempDir dir;
  write_tiny_dataset(dir.path(), 7);
  Dataset ds = Dataset::open(dir.path(), "train");
  ASSERT_EQ(ds.size(), 7);
  EXPECT_EQ(ds.height(), 4);
  EXPECT_EQ(ds.width(), 5);
  ImageView v = ds.image(3);
  EXPECT_EQ(v.data[0], 3);
  EXPECT_EQ(v.data[4 * 5 * 3 - 1], 3);
  DatasetRecord r = ds.record(6);
  EXPECT_EQ(r.index, 6);
  EXPECT_EQ(r.captions, (std::vector<std::string>{"full 6", "short 6"}));
  EXPECT_EQ(r.attributes["상의"]["색상"], "레드");
  EXPECT_EQ(dataset_splits(dir.path()), std::vector<std::string>{"train"});
  EXPECT_THROW(ds.image(7), Error);
}

TEST(Dataset, RejectsDamagedFilesNamingThem) {
  TempDir dir;
  EXPECT_NE(open_error(dir.path()).find("dataset.json"), std::string::npos);
  write_tiny_dataset(dir.path(), 3);
  std::string images = read_file(dir / "train.images");

  write_file_atomic(dir / "train.images", images.substr(0, images.size() - 1));
  EXPECT_NE(open_error(dir.path()).find("train.images"), std::string::npos);
  std::string bad_magic = images;
  bad_magic[0] = 'X';
  write_file_atomic(dir / "train.images", bad_magic);
  EXPECT_NE(open_error(dir.path()).find("magic"), std::string::npos);
  std::string bad_version = images;
  bad_version[8] = 9;
  write_file_atomic(dir / "train.images", bad_version);
  EXPECT_NE(open_error(dir.path()).find("version 9"), std::string::npos);

  write_file_atomic(dir / "train.images", images);
  std::string captions = read_file(dir / "train.captions.jsonl");
  write_file_atomic(dir / "train.captions.jsonl", captions.substr(0, captions.find('\n') + 1));
  EXPECT_NE(open_error(dir.path()).find("1 lines for 3 images"), std::string::npos);
  EXPECT_NE(open_error(dir.path()).find("train.captions.jsonl"), std::string::npos);
}

TEST(Batcher, SameSeedSameOrderEveryEpochADifferentOne) {
  TempDir dir;
  write_tiny_dataset(dir.path(), 23);
  BatcherOptions o;
  o.batch_size = 5, o.seed = 42;
  Batcher a(Dataset::open(dir.path()), o), b(Dataset::open(dir.path()), o);
  EXPECT_EQ(a.batches_per_epoch(), 4);  // drop_last: 23 / 5
  auto p0 = a.permutation(0), p1 = a.permutation(1);
  EXPECT_EQ(p0, b.permutation(0));
  EXPECT_NE(p0, p1);
  EXPECT_EQ(std::set<int64_t>(p0.begin(), p0.end()).size(), 23u);
  o.seed = 43;
  EXPECT_NE(Batcher(Dataset::open(dir.path()), o).permutation(0), p0);
  for (int i = 0; i < 6; ++i) {  // across the epoch boundary
    Batch x = a.next(), y = b.next();
    EXPECT_TRUE(x.indices.equal(y.indices));
    EXPECT_EQ(x.captions, y.captions);
  }
  EXPECT_EQ(a.epoch(), 1);
}

TEST(Batcher, ImagesAreFloatInMinusOneToOneAndMatchTheirIndices) {
  TempDir dir;
  write_tiny_dataset(dir.path(), 10);
  BatcherOptions o;
  o.batch_size = 4, o.short_caption_probability = 0;
  Batcher batcher(Dataset::open(dir.path()), o);
  Batch batch = batcher.next();
  ASSERT_EQ(batch.images.sizes(), (std::vector<int64_t>{4, 3, 4, 5}));
  EXPECT_EQ(batch.images.scalar_type(), torch::kFloat32);
  for (int b = 0; b < 4; ++b) {
    int64_t i = batch.indices[b].item<int64_t>();
    EXPECT_FLOAT_EQ(batch.images[b][2][3][4].item<float>(), float(i / 127.5 - 1.0));
    EXPECT_EQ(batch.captions[size_t(b)], "full " + std::to_string(i));
  }
}

TEST(Batcher, EveryRecordOncePerEpochWithoutDropLast) {
  TempDir dir;
  write_tiny_dataset(dir.path(), 11);
  BatcherOptions o;
  o.batch_size = 4, o.drop_last = false, o.short_caption_probability = 1;
  Batcher batcher(Dataset::open(dir.path()), o);
  ASSERT_EQ(batcher.batches_per_epoch(), 3);
  std::multiset<int64_t> seen;
  for (int s = 0; s < 3; ++s) {
    Batch batch = batcher.next();
    for (int64_t k = 0; k < batch.indices.size(0); ++k) seen.insert(batch.indices[k].item<int64_t>());
    for (const auto& c : batch.captions) EXPECT_EQ(c.rfind("short ", 0), 0u);
  }
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 11u);
}

TEST(Batcher, SeekReproducesABatchAndItsCaptions) {
  TempDir dir;
  write_tiny_dataset(dir.path(), 30);
  BatcherOptions o;
  o.batch_size = 3, o.seed = 7;
  Batcher run(Dataset::open(dir.path()), o);
  Batch wanted;
  for (int s = 0; s < 14; ++s) wanted = run.next();  // epoch 1, step 3
  EXPECT_EQ(wanted.epoch, 1);
  EXPECT_EQ(wanted.step, 3);
  Batcher resumed(Dataset::open(dir.path()), o);
  resumed.seek(1, 3);
  Batch again = resumed.next();
  EXPECT_TRUE(again.indices.equal(wanted.indices));
  EXPECT_EQ(again.captions, wanted.captions);
}
