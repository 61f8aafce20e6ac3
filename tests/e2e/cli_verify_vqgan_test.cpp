// `couture verify vqgan` as a user runs it on the shared taming reference vectors: one JSON line with the relative
// errors and the index match, exit 0; a failed check or a bad file exits 1 with one line naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace {

const std::filesystem::path kDir = std::filesystem::path(COUTURE_SHARED_TESTDATA) / "taming";

std::string verify(const std::string& args) { return std::string(COUTURE_BINARY) + " verify vqgan " + args; }

TEST(CliVerifyVQGan, ReferenceVectorsMatch) {
  if (!std::filesystem::exists(kDir / "vqgan_f16_mini.safetensors"))
    GTEST_SKIP() << "reference vectors not found at " << kDir;
  auto r = couture::testing::run_command(verify("--weights " + (kDir / "vqgan_f16_mini.safetensors").string() +
                                                " --io " + (kDir / "vqgan_f16_mini_io.safetensors").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  auto line = nlohmann::json::parse(r.output);  // exactly one JSON line
  std::printf("%s", r.output.c_str());
  EXPECT_TRUE(line["indices_match"].get<bool>());
  EXPECT_LT(line["h_rel_err"].get<double>(), 1e-4);
  EXPECT_LT(line["zq_rel_err"].get<double>(), 1e-4);
  EXPECT_LT(line["dec_rel_err"].get<double>(), 1e-4);
  EXPECT_TRUE(line["pass"].get<bool>());
}

TEST(CliVerifyVQGan, MismatchAndBadFilesExitOneWithOneLine) {
  if (!std::filesystem::exists(kDir / "vqgan_f16_mini.safetensors"))
    GTEST_SKIP() << "reference vectors not found at " << kDir;
  // The io file as weights: its tensors are not a VQGAN's.
  auto bad = couture::testing::run_command(verify("--weights " + (kDir / "vqgan_f16_mini_io.safetensors").string() +
                                                  " --config " + (kDir / "vqgan_f16_mini_config.json").string() +
                                                  " --io " + (kDir / "vqgan_f16_mini_io.safetensors").string()));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("couture: error: loading vqgan from"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("missing"), std::string::npos) << bad.output;
  // A tolerance no real computation meets: the JSON line, then the failure.
  auto strict = couture::testing::run_command(verify("--weights " + (kDir / "vqgan_f16_mini.safetensors").string() +
                                                     " --io " + (kDir / "vqgan_f16_mini_io.safetensors").string() +
                                                     " --dtype bf16"));
  EXPECT_EQ(strict.status, 1) << strict.output;
  EXPECT_NE(strict.output.find("\"dtype\":\"bf16\""), std::string::npos) << strict.output;
  EXPECT_NE(strict.output.find("does not match"), std::string::npos) << strict.output;
}

}  // namespace
