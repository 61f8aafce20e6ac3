// The couture command as a user meets it: help lists every option with its default, errors are one line with a
// non-zero exit, `inspect` lists tensors or says why a file is rejected.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::testing::run_command;
using couture::testing::TempDir;

namespace {

TEST(Cli, HelpListsSubcommandsAndDefaults) {
  auto r = run_command(std::string(COUTURE_BINARY) + " --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("inspect"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--threads INT:NONNEGATIVE=0"), std::string::npos) << r.output;
}

TEST(Cli, InspectListsTensorsAndMetadata) {
  std::filesystem::path file = std::string(COUTURE_SHARED_TESTDATA) + "/taming/vqgan_f16_mini.safetensors";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << "shared testdata absent";
  auto r = run_command(std::string(COUTURE_BINARY) + " inspect " + file.string());
  EXPECT_EQ(r.status, 0) << r.output;
  auto row = r.output.find("decoder.conv_out.weight ");
  ASSERT_NE(row, std::string::npos) << r.output;
  std::string line = r.output.substr(row, r.output.find('\n', row) - row);
  EXPECT_NE(line.find("F32    [3, 32, 3, 3]"), std::string::npos) << line;
  EXPECT_NE(r.output.find("quantize.embedding.weight"), std::string::npos) << r.output;
}

TEST(Cli, BadFileGivesOneErrorLineAndNonZeroExit) {
  TempDir dir;
  std::ofstream(dir / "broken.safetensors") << "\x10\0\0\0\0\0\0\0{\"a\": [1,2";
  auto r = run_command(std::string(COUTURE_BINARY) + " inspect " + (dir / "broken.safetensors").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output.rfind("couture: error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("broken.safetensors"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;

  auto missing = run_command(std::string(COUTURE_BINARY) + " inspect /nonexistent/file.safetensors");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("/nonexistent/file.safetensors': cannot open"), std::string::npos) << missing.output;
}

TEST(Cli, UnknownOptionIsAUsageError) {
  auto r = run_command(std::string(COUTURE_BINARY) + " inspect --no-such-flag x");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}

}  // namespace
