// A bundle is checked whole before anything serves from it (BundleManifest::load): a non-finite weight, a config in
// model.json that differs from the weights', an oversize model.json, a symbolic link and bad defaults are each
// refused with one line naming the file and the field or tensor; a good bundle loads and says what the check cost.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "generate/bundle.h"
#include "generate/generator.h"
#include "io/safetensors.h"
#include "support/temp_dir.h"
#include "support/tiny_bundle.h"

namespace couture {
namespace {

namespace fs = std::filesystem;

class BundleCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    bundle_ = testing::make_tiny_bundle(dir_->path() / "made");
  }
  static void TearDownTestSuite() { delete dir_; }

  // A fresh copy of the good bundle to break.
  fs::path copy(const std::string& name) {
    const fs::path to = dir_->path() / name;
    fs::copy(bundle_, to);
    return to;
  }
  static nlohmann::json manifest(const fs::path& dir) { return nlohmann::json::parse(read_file(dir / "model.json")); }
  static void write_manifest(const fs::path& dir, const nlohmann::json& j) {
    write_file_atomic(dir / "model.json", j.dump(1));
  }
  static std::string error_loading(const fs::path& dir) {
    try {
      BundleManifest::load(dir);
    } catch (const InputError& e) {
      return e.what();
    }
    return "(loaded)";
  }

  static testing::TempDir* dir_;
  static fs::path bundle_;
};
testing::TempDir* BundleCheck::dir_ = nullptr;
fs::path BundleCheck::bundle_;

TEST_F(BundleCheck, AGoodBundleLoadsAndSaysWhatTheCheckCost) {
  const auto m = BundleManifest::load(bundle_);
  EXPECT_GE(m.check_seconds, 0.0);
  EXPECT_LT(m.check_seconds, 5.0);
}

TEST_F(BundleCheck, ANonFiniteWeightIsNamed) {
  const fs::path dir = copy("nan");
  const fs::path file = dir / "dalle.safetensors";
  // save_tensors refuses to write a NaN, so the bytes are edited in place: the first value of the first F32
  // tensor (safetensors: an 8-byte header length, the JSON header, then the data at its data_offsets).
  std::string bytes = read_file(file);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | uint8_t(bytes[size_t(i)]);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_size));
  std::string poisoned;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__" || info["dtype"] != "F32") continue;
    const size_t at = 8 + header_size + info["data_offsets"][0].get<size_t>();
    const float nan = std::nanf("");
    std::memcpy(&bytes[at], &nan, 4);
    poisoned = name;
    break;
  }
  ASSERT_FALSE(poisoned.empty());
  write_file_atomic(file, bytes);
  auto j = manifest(dir);
  j["dalle"]["bytes"] = fs::file_size(file);  // the size check passes; the content is what is wrong
  write_manifest(dir, j);
  const std::string error = error_loading(dir);
  EXPECT_NE(error.find("dalle.safetensors: tensor '" + poisoned + "' holds NaN or infinity"), std::string::npos)
      << error;
}

TEST_F(BundleCheck, AConfigThatDiffersFromTheWeightsIsRefused) {
  const fs::path dir = copy("config");
  auto j = manifest(dir);
  j["dalle"]["config"]["depth"] = j["dalle"]["config"]["depth"].get<int>() + 1;
  write_manifest(dir, j);
  const std::string error = error_loading(dir);
  EXPECT_NE(error.find("model.json: field 'dalle.config' differs from the config in"), std::string::npos) << error;

  j = manifest(bundle_);
  j["vqgan"]["config"]["n_embed"] = 1099511627776;  // 2^40 codes
  write_manifest(dir, j);
  EXPECT_NE(error_loading(dir).find("vqgan.config"), std::string::npos) << error_loading(dir);
}

TEST_F(BundleCheck, AnOversizeManifestIsRefusedBeforeItIsRead) {
  const fs::path dir = copy("big");
  std::string text = read_file(dir / "model.json");
  text.insert(text.size() - 1, std::string(kMaxManifestBytes, ' '));  // valid JSON, just large
  write_file_atomic(dir / "model.json", text);
  const std::string error = error_loading(dir);
  EXPECT_NE(error.find("a model.json is at most"), std::string::npos) << error;
}

TEST_F(BundleCheck, SymbolicLinksAreRefused) {
  const fs::path dir = copy("link");
  fs::remove(dir / "vocab.txt");
  fs::create_symlink(bundle_ / "vocab.txt", dir / "vocab.txt");
  const std::string error = error_loading(dir);
  EXPECT_NE(error.find("vocab.txt is a symbolic link"), std::string::npos) << error;
}

TEST_F(BundleCheck, BadDefaultsNameModelJsonAndTheField) {
  const fs::path dir = copy("defaults");
  auto j = manifest(dir);
  j["defaults"] = {{"top_k", -5}};
  write_manifest(dir, j);
  std::string error = error_loading(dir);
  EXPECT_NE(error.find("model.json: field 'defaults': top_k"), std::string::npos) << error;

  j["defaults"] = {{"seed", 3}};  // a request's own field, not a sampling default
  write_manifest(dir, j);
  error = error_loading(dir);
  EXPECT_NE(error.find("'seed' cannot be a default"), std::string::npos) << error;
}

// model.json "attribute_values" (what attribute reranking chooses among): a bad one is refused naming the field;
// update_bundle changes model.json alone (weights byte for byte the same), merges defaults and notes the change.
TEST_F(BundleCheck, AttributeValuesAreCheckedAndUpdateChangesModelJsonAlone) {
  const fs::path dir = copy("values");
  auto j = manifest(dir);
  for (const auto& bad : {nlohmann::json::array(), nlohmann::json{{"무게", {"1"}}}, nlohmann::json{{"색상", "레드"}},
                          nlohmann::json{{"색상", {"레드", "레드"}}}, nlohmann::json{{"색상", {""}}}}) {
    j["attribute_values"] = bad;
    write_manifest(dir, j);
    const std::string error = error_loading(dir);
    EXPECT_NE(error.find("model.json: field 'attribute_values'"), std::string::npos) << bad.dump() << ": " << error;
  }
  j.erase("attribute_values");
  write_manifest(dir, j);

  const std::string weights = read_file(dir / "dalle.safetensors");
  const auto updated = update_bundle(dir, SamplingDefaults::from_json({{"attribute_weight", 2.0}}),
                                     {{"색상", {"레드", "블루"}}, {"카테고리", {"티셔츠", "드레스"}}}, {{"why", "test"}});
  EXPECT_EQ(updated.attribute_values.at("색상"), (std::vector<std::string>{"레드", "블루"}));
  EXPECT_EQ(updated.defaults.attribute_weight, 2.0);
  EXPECT_EQ(read_file(dir / "dalle.safetensors"), weights);
  const auto again = update_bundle(dir, SamplingDefaults::from_json({{"top_k", 8}}), {}, {});
  EXPECT_EQ(again.defaults.attribute_weight, 2.0) << "an update keeps the defaults it does not name";
  EXPECT_EQ(again.defaults.top_k, 8);
  EXPECT_EQ(again.attribute_values.size(), 2u) << "an update without values keeps the recorded ones";
  const auto notes = manifest(dir)["provenance"]["updates"];
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0]["why"], "test");
}

// couture bundle --bf16-weights: matrices and kernels stored as BF16, vectors F32, in fewer bytes; the bundle
// passes the whole check and generates.
TEST_F(BundleCheck, Bf16WeightsHalveTheFilesAndStillGenerate) {
  const fs::path src = dir_->path() / "made/src";
  BundleSources sources;
  sources.vocab = src / "vocab.txt";
  sources.vqgan = src / "vqgan.safetensors";
  sources.dalle = src / "dalle.safetensors";
  sources.reranker = src / "clip.safetensors";
  sources.bf16_weights = true;
  const fs::path out = dir_->path() / "bf16";
  write_bundle(sources, out);
  for (const char* name : {"vqgan.safetensors", "dalle.safetensors", "clip.safetensors"}) {
    const auto size = fs::file_size(out / name), full = fs::file_size(bundle_ / name);
    std::printf("%s: %ju -> %ju bytes\n", name, uintmax_t(full), uintmax_t(size));
    EXPECT_LT(double(size), 0.6 * double(full)) << name;
    const auto file = SafetensorsFile::open(out / name);
    for (const auto& t : file.tensors()) {
      if (t.shape.size() >= 2 && t.dtype != DType::I64) EXPECT_EQ(t.dtype, DType::BF16) << name << " " << t.name;
      if (t.shape.size() == 1 && t.name.find("running") == std::string::npos)
        EXPECT_EQ(t.dtype, DType::F32) << name << " " << t.name;
    }
  }
  EXPECT_EQ(manifest(out)["dalle"]["weights"], "bf16");
  auto generator = load_generator({out});
  GenerateParams p;
  p.prompt = "상의에서 색상은 레드이다.";
  p.n = 2;
  p.top = 2;
  const auto result = generator->generate(p, {});
  ASSERT_EQ(result.candidates.size(), 2u);
  EXPECT_GT(result.candidates[0].image.width, 0);
}

}  // namespace
}  // namespace couture
