// Code shards as the DALL-E trainer reads them: a round trip keeps every code and the header, and damaged or
// foreign files are refused with a message naming the file and the problem.
#include <gtest/gtest.h>

#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/code_shards.h"
#include "support/temp_dir.h"

using couture::CodesHeader;
using couture::CodeShard;
using couture::testing::TempDir;
namespace fs = std::filesystem;

namespace {

CodesHeader header(uint64_t count) {
  CodesHeader h;
  h.grid_h = 2, h.grid_w = 3, h.n_embed = 500, h.count = count;
  for (size_t i = 0; i < h.fingerprint.size(); ++i) h.fingerprint[i] = uint8_t(17 * i + 3);
  return h;
}

std::vector<uint16_t> codes(size_t n) {
  std::vector<uint16_t> c(n);
  for (size_t i = 0; i < n; ++i) c[i] = uint16_t((i * 37) % 500);
  return c;
}

std::string error_of(const fs::path& path, const std::optional<couture::Fingerprint>& expected = std::nullopt) {
  try {
    CodeShard::open(path, expected);
  } catch (const couture::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(CodeShards, RoundTrip) {
  TempDir dir;
  const auto h = header(4);
  const auto c = codes(24);
  couture::write_code_shard(dir / "train.codes", h, c);
  EXPECT_EQ(fs::file_size(dir / "train.codes"), 64u + 24 * 2);
  auto shard = CodeShard::open(dir / "train.codes", h.fingerprint);
  EXPECT_EQ(shard.size(), 4);
  EXPECT_EQ(shard.codes_per_record(), 6);
  EXPECT_EQ(shard.header().n_embed, 500u);
  EXPECT_EQ(shard.header().fingerprint, h.fingerprint);
  auto batch = shard.batch({3, 0});
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(batch.scalar_type(), at::kLong);
  for (int64_t j = 0; j < 6; ++j) {
    EXPECT_EQ(batch[0][j].item<int64_t>(), c[size_t(18 + j)]);
    EXPECT_EQ(batch[1][j].item<int64_t>(), c[size_t(j)]);
  }
}

TEST(CodeShards, TruncatedFileIsNamed) {
  TempDir dir;
  couture::write_code_shard(dir / "a.codes", header(4), codes(24));
  std::string bytes = couture::read_file(dir / "a.codes");
  couture::write_file_atomic(dir / "a.codes", bytes.substr(0, bytes.size() - 5));
  auto message = error_of(dir / "a.codes");
  EXPECT_NE(message.find("a.codes"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  couture::write_file_atomic(dir / "a.codes", bytes.substr(0, 20));
  message = error_of(dir / "a.codes");
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(CodeShards, WrongMagicIsNamed) {
  TempDir dir;
  couture::write_code_shard(dir / "b.codes", header(1), codes(6));
  std::string bytes = couture::read_file(dir / "b.codes");
  bytes[0] = 'X';
  couture::write_file_atomic(dir / "b.codes", bytes);
  auto message = error_of(dir / "b.codes");
  EXPECT_NE(message.find("b.codes"), std::string::npos) << message;
  EXPECT_NE(message.find("wrong magic"), std::string::npos) << message;
}

TEST(CodeShards, FingerprintMismatchIsNamed) {
  TempDir dir;
  couture::write_code_shard(dir / "c.codes", header(1), codes(6));
  auto other = header(1).fingerprint;
  other[5] ^= 1;
  auto message = error_of(dir / "c.codes", other);
  EXPECT_NE(message.find("c.codes"), std::string::npos) << message;
  EXPECT_NE(message.find("another VQGAN"), std::string::npos) << message;
  EXPECT_NE(message.find(couture::fingerprint_hex(other)), std::string::npos) << message;
}

TEST(CodeShards, CodeOutsideCodebookAndBadVersionAreRefused) {
  TempDir dir;
  couture::write_code_shard(dir / "d.codes", header(1), codes(6));
  std::string bytes = couture::read_file(dir / "d.codes");
  std::string bad = bytes;
  bad[64] = char(0xff), bad[65] = char(0xff);  // code 65535 >= 500
  couture::write_file_atomic(dir / "d.codes", bad);
  EXPECT_NE(error_of(dir / "d.codes").find("outside its codebook"), std::string::npos);
  bad = bytes;
  bad[8] = 9;  // version 9
  couture::write_file_atomic(dir / "d.codes", bad);
  EXPECT_NE(error_of(dir / "d.codes").find("version 9"), std::string::npos);
}

TEST(CodeShards, FingerprintFollowsFileContent) {
  TempDir dir;
  std::string bytes(3'000'000, 'a');  // three 1 MiB chunks and a bit
  couture::write_file_atomic(dir / "w1", bytes);
  bytes.back() = 'b';
  couture::write_file_atomic(dir / "w2", bytes);
  auto f1 = couture::file_fingerprint(dir / "w1");
  EXPECT_EQ(f1, couture::file_fingerprint(dir / "w1"));
  EXPECT_NE(f1, couture::file_fingerprint(dir / "w2"));
  EXPECT_EQ(couture::fingerprint_from_hex(couture::fingerprint_hex(f1)), f1);
  EXPECT_FALSE(couture::fingerprint_from_hex("xyz").has_value());
}

}  // namespace
