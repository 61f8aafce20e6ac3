// couture generate "상의에서 색상은 레드이다. ..." [-n 16] [--top 4] [--seed S] [--out DIR] [--model DIR]: loads the
// bundle once, samples N candidates in one KV-cached batch, decodes, reranks, and writes the best `top` as PNGs (with
// a `parameters` text chunk saying how to make each again), a contact sheet of all N in rank order, result.json, and
// one JSON summary line per prompt on stdout. --prompt-file runs one prompt per line, each into its own folder.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "command.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "io/image.h"
#include "model_dir.h"
#include "generate/candidate_files.h"
#include "generate/generator.h"
#include "sampling_options.h"
#include "text/prompt_parse.h"

namespace {
namespace fs = std::filesystem;

struct GenerateOptions {
  std::string prompt, prompt_file, model, out, init_image;
  couture::GenerateParams params;
  int init_codes_kept = 0;
  bool bf16 = false, int8 = false, overwrite = false;
  std::string decoder = "auto";
  CLI::App* cmd = nullptr;
};

std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream in(path);
  COUTURE_CHECK_INPUT(in, path, ": cannot read the prompt file");
  std::vector<std::string> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) prompts.push_back(line);
  }
  COUTURE_CHECK_INPUT(!prompts.empty(), path, ": no prompts (one per line)");
  return prompts;
}

// Said before a prompt's work starts: a prompt the lexicon cannot read still generates, but the user should know.
void warn_if_not_understood(const std::string& prompt, const std::string& which) {
  const auto understood = couture::parse_prompt(prompt);
  if (understood.empty()) {
    couture::log::warn(which + ": no category, colour, print or other attribute recognised; generating anyway");
  } else if (!understood.unrecognized.empty()) {
    std::string words;
    for (const auto& w : understood.unrecognized) {
      if (!words.empty()) words.append(", ");
      words.append(w);
    }
    couture::log::info(which + ": words not recognised: " + words);
  }
}

constexpr const char* kDefaultOutBase = "out/generate";

// What `couture generate` writes into a folder: its PNGs, contact sheet and result.json, and with --prompt-file a
// prompt-NNNN folder of them per prompt.
bool is_ours(const fs::path& entry) {
  static const std::regex ours(R"(rank-\d+\.png|contact\.png|result\.json|prompt-\d{4,}|.*\.tmp)");
  return std::regex_match(entry.filename().string(), ours);
}

// Where this run writes. Without --out: a fresh numbered folder under out/generate (00001, 00002, ...), so runs
// never mix. With --out: the folder must be new or empty, unless --overwrite, which removes what an earlier run of
// this command wrote there (and nothing else).
fs::path output_folder(const GenerateOptions& o) {
  if (o.out.empty()) {
    int last = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(kDefaultOutBase, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() == 5 && std::all_of(name.begin(), name.end(), ::isdigit)) last = std::max(last, std::stoi(name));
    }
    char name[16];
    std::snprintf(name, sizeof name, "%05d", last + 1);
    return fs::path(kDefaultOutBase) / name;
  }
  const fs::path out = o.out;
  std::error_code ec;
  if (!fs::exists(out, ec)) return out;
  COUTURE_CHECK_INPUT(fs::is_directory(out, ec), "--out ", out.string(), " is a file, not a folder");
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(out)) entries.push_back(e.path());
  if (entries.empty()) return out;
  COUTURE_CHECK_INPUT(o.overwrite, "--out ", out.string(), " holds an earlier run (",
                      entries.front().filename().string(), entries.size() > 1 ? ", ..." : "",
                      "); choose a new folder, leave --out out for a fresh ", kDefaultOutBase,
                      "/NNNNN, or add --overwrite to replace it");
  for (const auto& e : entries)
    if (is_ours(e)) fs::remove_all(e);
  return out;
}

void run(GenerateOptions& o) {
  COUTURE_CHECK_INPUT(o.prompt.empty() != o.prompt_file.empty(), "give a prompt or --prompt-file (exactly one)");
  COUTURE_CHECK_INPUT(o.init_codes_kept >= 0, "--init-codes must be 0 or more, got ", o.init_codes_kept);
  COUTURE_CHECK_INPUT(o.init_codes_kept == 0 || !o.init_image.empty(), "--init-codes needs --init-image");
  const std::vector<std::string> prompts = o.prompt_file.empty() ? std::vector<std::string>{o.prompt}
                                                                 : read_prompts(o.prompt_file);
  o.params.prompt = prompts.front();
  o.params.validate(/*merged=*/false);  // options are checked before the model loads
  for (size_t i = 0; i < prompts.size(); ++i) {
    couture::GenerateParams p = o.params;
    p.prompt = prompts[i];
    try {
      p.validate(/*merged=*/false);
    } catch (const couture::InputError& e) {
      throw couture::InputError((o.prompt_file.empty() ? std::string("prompt") : o.prompt_file + ":" +
                                std::to_string(i + 1)) + ": " + e.what());
    }
  }

  const fs::path out = output_folder(o);
  const bool random_seed = o.cmd->count("--seed") == 0;
  if (random_seed) o.params.seed = std::random_device{}();  // 32 bits: easy to read, type and share

  auto t0 = std::chrono::steady_clock::now();
  const std::string model = o.model.empty() ? couture::app::default_model_dir() : o.model;
  auto generator = couture::load_generator(
      {.model_dir = model, .bf16 = o.bf16, .int8 = o.int8, .decoder = o.decoder});
  const nlohmann::json description = generator->describe();
  const std::string model_name = description.value("name", model);
  char loaded[160];
  std::snprintf(loaded, sizeof loaded, "loaded %s in %.2f s (its whole-bundle check: %.3f s)", model.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                description.value("load_check_seconds", 0.0));
  couture::log::info(loaded);
  o.params = couture::app::with_bundle_defaults(*o.cmd, o.params,
                                                description.value("defaults", nlohmann::json::object()));
  if (random_seed)
    couture::log::info("seed " + std::to_string(o.params.seed) + " (random; --seed " + std::to_string(o.params.seed) +
                       " makes these designs again)");
  if (!o.init_image.empty()) {
    o.params.init_codes = generator->encode_image(couture::read_image(o.init_image));
    o.params.num_init_codes = o.init_codes_kept;
    o.params.validate();
  }

  for (size_t i = 0; i < prompts.size(); ++i) {
    couture::GenerateParams p = o.params;
    p.prompt = prompts[i];
    char sub[32];
    std::snprintf(sub, sizeof sub, "prompt-%04zu", i + 1);
    const fs::path dir = prompts.size() == 1 ? out : out / sub;
    const std::string which = prompts.size() == 1 ? std::string("prompt") : "prompt " + std::to_string(i + 1);
    warn_if_not_understood(p.prompt, which);
    couture::Progress bar(prompts.size() == 1 ? "generate" : "generate " + std::to_string(i + 1) + "/" +
                                                                  std::to_string(prompts.size()),
                          0, "codes");
    const auto start = std::chrono::steady_clock::now();
    auto result = generator->generate(p, [&](const std::string& stage, int64_t done, int64_t total) {
      if (stage == "sample") {  // the codes of one image; all N candidates are sampled together
        bar.set_total(total);
        bar.set_note("sample " + std::to_string(p.n) + " candidates");
        bar.advance(done - bar.done());
      } else {
        bar.set_note(stage);
      }
      return true;
    });
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!result.caption.empty() && result.caption != p.prompt)  // prompt_as "understood"
      couture::log::info(which + ": read as \"" + result.caption + "\"");
    const auto summary = couture::write_result_folder(p, result, model_name, dir, seconds);
    // Where the files went, then the JSON line (the last line, for scripts).
    couture::log::info("wrote the best " + std::to_string(p.top) + " of " + std::to_string(p.n) + " to " +
                       dir.string() + "/ (rank-01.png ..., contact.png, result.json)");
    std::printf("%s\n", summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(stdout);
  }
}

}  // namespace

COUTURE_COMMAND("generate", "Candidate designs for a Korean description: sample N, rerank, keep the best") {
  static GenerateOptions o;
  o.cmd = &cmd;
  cmd.add_option("prompt", o.prompt, "The description (at most 200 characters)");
  cmd.add_option("--prompt-file", o.prompt_file, "One prompt per line; each result in OUT/prompt-NNNN/");
  couture::app::add_sampling_options(cmd, o.params);
  cmd.get_option("--seed")->description("Candidate i uses seed + i (default: a random seed, printed)")->default_str("");
  cmd.add_option("--init-image", o.init_image, "Variations of this design: keep its first code rows, generate the rest");
  cmd.add_option("--init-codes", o.init_codes_kept, "Codes kept from --init-image (0: the original's 43.75%)");
  cmd.add_option("--model", o.model, "Model bundle folder (default: $COUTURE_MODEL, else models/default)");
  cmd.add_option("--out", o.out, "Output folder, new or empty (default: a fresh out/generate/NNNNN)");
  cmd.add_flag("--overwrite", o.overwrite, "Replace an earlier run's files in --out");
  couture::app::add_load_options(cmd, o.bf16, o.int8, o.decoder);
  cmd.callback([] { run(o); });
}
