// `couture tokenize` and `couture vocab train` as a user runs them: JSON lines with ids and tokens, stdin with "-",
// padding, one clear error line for refused texts; a vocabulary learnt from a dataset's captions, deterministic.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

using couture::testing::run_command;
using couture::testing::TempDir;

namespace {

const std::string kBin = COUTURE_BINARY;

std::vector<nlohmann::json> json_lines(const std::string& output) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

void write_vocab(const std::filesystem::path& path) {
  std::ofstream(path) << "[CLS]\n[PAD]\n[SEP]\n[UNK]\n[MASK]\n상의\n##에서\n색상\n##은\n화이트\n##이다\n.\n";
}

TEST(CliTokenize, PrintsOneJsonLinePerText) {
  TempDir dir;
  write_vocab(dir / "vocab.txt");
  auto r = run_command(kBin + " tokenize --vocab " + (dir / "vocab.txt").string() +
                       " '상의에서 색상은 화이트이다.' '여친룩'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_EQ(lines[0]["text"], "상의에서 색상은 화이트이다.");
  EXPECT_EQ(lines[0]["ids"], nlohmann::json({0, 5, 6, 7, 8, 9, 10, 11, 2}));
  EXPECT_EQ(lines[0]["tokens"][1], "상의");
  EXPECT_EQ(lines[1]["tokens"], nlohmann::json({"[CLS]", "[UNK]", "[SEP]"}));
}

TEST(CliTokenize, ReadsStdinAndPads) {
  TempDir dir;
  write_vocab(dir / "vocab.txt");
  auto r = run_command("printf '상의에서\\r\\n\\n색상은\\n' | " + kBin + " tokenize --max-len 5 --vocab " +
                       (dir / "vocab.txt").string() + " -");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output;
  EXPECT_EQ(lines[0]["ids"], nlohmann::json({0, 5, 6, 2, 1}));
  EXPECT_EQ(lines[0]["attention_mask"], nlohmann::json({1, 1, 1, 1, 0}));
  EXPECT_EQ(lines[1]["ids"], nlohmann::json({0, 2, 1, 1, 1}));  // an empty line is an empty text
  EXPECT_EQ(lines[2]["tokens"], nlohmann::json({"[CLS]", "색상", "##은", "[SEP]", "[PAD]"}));
}

TEST(CliTokenize, RefusedTextsGetAnErrorLineAndExitOne) {
  TempDir dir;
  write_vocab(dir / "vocab.txt");
  auto r = run_command(kBin + " tokenize --max-input-bytes 8 --vocab " + (dir / "vocab.txt").string() +
                       " '상의' '상의에서 색상은'");
  EXPECT_EQ(r.status, 1) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_TRUE(lines[0].contains("ids"));
  EXPECT_NE(lines[1]["error"].get<std::string>().find("8-byte limit"), std::string::npos);
  EXPECT_NE(r.output.find("couture: error: 1 of 2 texts were refused"), std::string::npos) << r.output;

  auto missing = run_command(kBin + " tokenize --vocab " + (dir / "nope.txt").string() + " x");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("nope.txt' does not exist"), std::string::npos) << missing.output;
}

TEST(CliTokenize, InvalidUtf8IsTokenizedNotFatal) {
  TempDir dir;
  write_vocab(dir / "vocab.txt");
  auto r = run_command("printf '\\377\\376\\300상의\\n' | " + kBin + " tokenize --vocab " +
                       (dir / "vocab.txt").string() + " -");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_EQ(lines[0]["ids"], nlohmann::json({0, 5, 2}));
}

TEST(CliVocabTrain, LearnsFromADatasetDeterministically) {
  TempDir dir;
  std::filesystem::create_directories(dir / "ds");
  {
    std::ofstream jsonl(dir / "ds" / "train.captions.jsonl");
    const char* sentences[] = {"상의에서 색상은 화이트이다.", "하의에서 색상은 블랙이다.", "상의에서 소재에는 니트, 울이다."};
    for (int i = 0; i < 30; ++i) {
      nlohmann::json line = {{"index", i}, {"captions", {sentences[i % 3], "상의는 화이트 색상의 셔츠이다."}}};
      jsonl << line.dump() << "\n";
    }
  }
  const std::string cmd = kBin + " vocab train --dataset " + (dir / "ds").string() + " --size 120 --out ";
  auto a = run_command(cmd + (dir / "a" / "vocab.txt").string());
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_NE(a.output.find("0.0000% unknown"), std::string::npos) << a.output;
  auto b = run_command(cmd + (dir / "b" / "vocab.txt").string());
  ASSERT_EQ(b.status, 0) << b.output;
  const std::string va = couture::read_file(dir / "a" / "vocab.txt");
  EXPECT_EQ(va, couture::read_file(dir / "b" / "vocab.txt"));
  EXPECT_EQ(va.rfind("[CLS]\n[PAD]\n[SEP]\n[UNK]\n[MASK]\n", 0), 0u) << va.substr(0, 80);
  EXPECT_TRUE(std::filesystem::exists(dir / "a" / "tokenizer_config.json"));

  auto t = run_command(kBin + " tokenize --vocab " + (dir / "a" / "vocab.txt").string() + " '상의에서 색상은 블랙이다.'");
  ASSERT_EQ(t.status, 0) << t.output;
  const auto lines = json_lines(t.output);
  ASSERT_EQ(lines.size(), 1u);
  for (const auto& id : lines[0]["ids"]) EXPECT_NE(id, 3) << t.output;  // no [UNK]
}

TEST(CliVocabTrain, TextFileAndClearErrors) {
  TempDir dir;
  std::ofstream(dir / "captions.txt") << "가나다 가나다 라마\n가나 라마바\n";
  auto r = run_command(kBin + " vocab train --text " + (dir / "captions.txt").string() + " --size 40 --out " +
                       (dir / "vocab.txt").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "vocab.txt"));

  auto none = run_command(kBin + " vocab train --size 40 --out " + (dir / "v2.txt").string());
  EXPECT_NE(none.status, 0);  // neither --dataset nor --text
  auto missing = run_command(kBin + " vocab train --dataset " + (dir / "nope").string() + " --out " +
                             (dir / "v3.txt").string());
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("train.captions.jsonl"), std::string::npos) << missing.output;
  std::filesystem::create_directories(dir / "bad");
  std::ofstream(dir / "bad" / "train.captions.jsonl") << "{\"captions\": [\"가\"]}\n{\"captions\": 3}\n";
  auto bad = run_command(kBin + " vocab train --dataset " + (dir / "bad").string() + " --out " +
                         (dir / "v4.txt").string());
  EXPECT_EQ(bad.status, 0) << bad.output;  // the good records are kept, the bad one reported
  EXPECT_NE(bad.output.find("1 of 2 lines had problems, first: "), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("train.captions.jsonl line 2: no 'captions' list"), std::string::npos) << bad.output;
}

}  // namespace
