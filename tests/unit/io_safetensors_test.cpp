// The safetensors reader accepts what the format allows and rejects, naming the file and tensor, what it doesn't.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "support/golden.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::TempDir;

namespace {

std::string with_header(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xFF);
  return out + json + data;
}

std::string rejection(const std::string& bytes) {
  try {
    SafetensorsFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "bad.safetensors");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripEveryDtypeAndMetadata) {
  TempDir dir;
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f};
  std::vector<int64_t> i64 = {-1, 1LL << 40};
  std::vector<int32_t> i32 = {5, -6, 7};
  std::vector<uint8_t> u8 = {0, 255, 7};
  std::vector<uint16_t> half = {0x3C00, 0xC000};  // 1.0, -2.0 in F16; reused as raw BF16 bits
  std::vector<uint8_t> flags = {1, 0};
  std::vector<TensorView> tensors = {
      {"w", DType::F32, {2, 3}, reinterpret_cast<const uint8_t*>(f.data()), 24},
      {"ids", DType::I64, {2}, reinterpret_cast<const uint8_t*>(i64.data()), 16},
      {"i32", DType::I32, {3}, reinterpret_cast<const uint8_t*>(i32.data()), 12},
      {"bytes", DType::U8, {3}, u8.data(), 3},
      {"h", DType::F16, {2}, reinterpret_cast<const uint8_t*>(half.data()), 4},
      {"b", DType::BF16, {1, 2}, reinterpret_cast<const uint8_t*>(half.data()), 4},
      {"flags", DType::BOOL, {2}, flags.data(), 2},
      {"empty", DType::F32, {0, 4}, nullptr, 0},
  };
  write_safetensors(dir / "t.safetensors", tensors, {{"config", "{\"dim\": 4}"}, {"note", "한국어"}});
  auto file = SafetensorsFile::open(dir / "t.safetensors");
  ASSERT_EQ(file.tensors().size(), tensors.size());
  EXPECT_EQ(file.metadata().at("note"), "한국어");
  EXPECT_EQ(file.metadata().at("config"), "{\"dim\": 4}");
  for (const auto& t : tensors) {
    const TensorView& r = file.at(t.name);
    EXPECT_EQ(r.dtype, t.dtype) << t.name;
    EXPECT_EQ(r.shape, t.shape) << t.name;
    ASSERT_EQ(r.nbytes, t.nbytes) << t.name;
    if (t.nbytes) {
      EXPECT_EQ(std::memcmp(r.data, t.data, t.nbytes), 0) << t.name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(r.data) % dtype_size(r.dtype), 0u) << t.name << " is misaligned";
    }
  }
  EXPECT_EQ(file.find("nope"), nullptr);
  EXPECT_THROW(file.at("nope"), InputError);
}

TEST(Safetensors, RejectsTruncatedFile) {
  std::string good = with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x'));
  EXPECT_EQ(rejection(good), "");
  std::string msg = rejection(good.substr(0, good.size() - 3));
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'a'"), std::string::npos) << msg;
  EXPECT_NE(rejection(good.substr(0, 5)).find("shorter"), std::string::npos);
  EXPECT_NE(rejection(good.substr(0, 20)).find("truncated"), std::string::npos);
}

TEST(Safetensors, RejectsTrailingBytes) {
  std::string msg =
      rejection(with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", std::string(5, 'x')));
  EXPECT_NE(msg.find("trailing bytes: 3"), std::string::npos) << msg;
}

TEST(Safetensors, RejectsOverlapAndGap) {
  std::string overlap = rejection(with_header(
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
      std::string(6, 'x')));
  EXPECT_NE(overlap.find("overlap"), std::string::npos) << overlap;
  EXPECT_NE(overlap.find("'b'"), std::string::npos) << overlap;
  std::string gap = rejection(with_header(
      R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
      std::string(6, 'x')));
  EXPECT_NE(gap.find("gap"), std::string::npos) << gap;
}

TEST(Safetensors, RejectsOverflowingShape) {
  std::string msg = rejection(with_header(
      R"({"a":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,4]}})", std::string(4, 'x')));
  EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'a'"), std::string::npos) << msg;
  std::string mismatch =
      rejection(with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}})", std::string(4, 'x')));
  EXPECT_NE(mismatch.find("needs 12 bytes"), std::string::npos) << mismatch;
}

TEST(Safetensors, RejectsBadJsonAndInvalidUtf8) {
  EXPECT_NE(rejection(with_header(R"({"a":{"dtype":"F32",)", "")).find("not valid UTF-8 JSON"), std::string::npos);
  EXPECT_NE(rejection(with_header("{\"\xff\xfe\":1}", "")).find("not valid UTF-8 JSON"), std::string::npos);
  EXPECT_NE(rejection(with_header("[1,2]", "")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(rejection(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", ""))
                .find("non-negative"),
            std::string::npos);
  std::string huge(8, '\xff');
  EXPECT_NE(rejection(huge + "{}").find("100 MB"), std::string::npos);
}

TEST(Safetensors, RejectsUnknownDtype) {
  std::string msg =
      rejection(with_header(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", std::string(1, 'x')));
  EXPECT_NE(msg.find("unknown or unsupported dtype 'F8_E4M3'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor 'a'"), std::string::npos) << msg;
}

TEST(Safetensors, WriterIsAtomicAndRefusesBadInput) {
  TempDir dir;
  float v = 1;
  EXPECT_THROW(write_safetensors(dir / "x.safetensors",
                                 {{"a", DType::F32, {2}, reinterpret_cast<const uint8_t*>(&v), 4}}),
               Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "no temporary file left behind";
}

TEST(Safetensors, FiniteCheck) {
  std::vector<float> good = {1, 2}, bad = {1, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(all_finite({"g", DType::F32, {2}, reinterpret_cast<const uint8_t*>(good.data()), 8}));
  EXPECT_FALSE(all_finite({"b", DType::F32, {2}, reinterpret_cast<const uint8_t*>(bad.data()), 8}));
  uint16_t bf16_inf = 0x7F80;
  EXPECT_FALSE(all_finite({"i", DType::BF16, {1}, reinterpret_cast<const uint8_t*>(&bf16_inf), 2}));
}

TEST(Safetensors, ReadsFilesWrittenByPython) {
  std::filesystem::path root = COUTURE_SHARED_TESTDATA;
  COUTURE_NEED_REFERENCE(std::filesystem::exists(root), "../shared/testdata not found at " << root);
  auto io = SafetensorsFile::open(root / "kodalle/kodalle_mini_rev_io.safetensors");
  const auto& logits = io.at("logits");
  EXPECT_EQ(logits.dtype, DType::F32);
  EXPECT_EQ(logits.shape, (std::vector<int64_t>{2, 24, 140}));
  const auto& text = io.at("text");
  EXPECT_EQ(text.dtype, DType::I64);
  EXPECT_EQ(text.shape, (std::vector<int64_t>{2, 8}));
  float masked;
  // image positions may not predict text ids: the first logit of the last position is the mask value
  std::memcpy(&masked, logits.data + ((0 * 24 + 23) * 140 + 0) * 4, 4);
  EXPECT_FLOAT_EQ(masked, -3.4028235e38f);
  auto vq = SafetensorsFile::open(root / "taming/vqgan_f16_mini_io.safetensors");
  EXPECT_EQ(vq.at("x").shape, (std::vector<int64_t>{2, 3, 64, 64}));
  EXPECT_EQ(vq.at("indices").shape, (std::vector<int64_t>{2, 16}));
  const auto& x = vq.at("x");
  for (int64_t i = 0; i < x.numel(); ++i) {
    float value;
    std::memcpy(&value, x.data + 4 * i, 4);
    ASSERT_TRUE(value >= -1.f && value <= 1.f) << "x[" << i << "] = " << value;
  }
}

}  // namespace
