// couture generate "상의에서 색상은 레드이다. ..." [-n 16] [--top 4] [--seed S] [--out DIR] [--model DIR]: loads the
// bundle once, samples N candidates in one KV-cached batch, decodes, reranks, and writes the best `top` as PNGs (with
// a `parameters` text chunk saying how to make each again), a contact sheet of all N in rank order, result.json, and
// one JSON summary line per prompt on stdout. --prompt-file runs one prompt per line, each into its own folder.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

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
  std::string prompt, prompt_file, model, out = "out/generate", init_image;
  couture::GenerateParams params;
  int init_codes_kept = 0;
  bool bf16 = false;
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

void run(GenerateOptions& o) {
  COUTURE_CHECK_INPUT(o.prompt.empty() != o.prompt_file.empty(), "give a prompt or --prompt-file (exactly one)");
  COUTURE_CHECK_INPUT(o.init_codes_kept >= 0, "--init-codes must be 0 or more, got ", o.init_codes_kept);
  COUTURE_CHECK_INPUT(o.init_codes_kept == 0 || !o.init_image.empty(), "--init-codes needs --init-image");
  const std::vector<std::string> prompts = o.prompt_file.empty() ? std::vector<std::string>{o.prompt}
                                                                 : read_prompts(o.prompt_file);
  o.params.prompt = prompts.front();
  o.params.validate();  // options are checked before the model loads
  for (size_t i = 0; i < prompts.size(); ++i) {
    couture::GenerateParams p = o.params;
    p.prompt = prompts[i];
    try {
      p.validate();
    } catch (const couture::InputError& e) {
      throw couture::InputError((o.prompt_file.empty() ? std::string("prompt") : o.prompt_file + ":" +
                                std::to_string(i + 1)) + ": " + e.what());
    }
  }

  auto t0 = std::chrono::steady_clock::now();
  const std::string model = o.model.empty() ? couture::app::default_model_dir() : o.model;
  auto generator = couture::load_generator({model, o.bf16});
  const nlohmann::json description = generator->describe();
  const std::string model_name = description.value("name", model);
  char loaded[160];
  std::snprintf(loaded, sizeof loaded, "loaded %s in %.2f s (its whole-bundle check: %.3f s)", model.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                description.value("load_check_seconds", 0.0));
  couture::log::info(loaded);
  o.params = couture::app::with_bundle_defaults(*o.cmd, o.params,
                                                description.value("defaults", nlohmann::json::object()));
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
    const fs::path dir = prompts.size() == 1 ? fs::path(o.out) : fs::path(o.out) / sub;
    warn_if_not_understood(p.prompt, prompts.size() == 1 ? std::string("prompt") : "prompt " + std::to_string(i + 1));
    couture::Progress bar(prompts.size() == 1 ? "generate" : "generate " + std::to_string(i + 1) + "/" +
                                                                  std::to_string(prompts.size()),
                          0, "codes");
    const auto start = std::chrono::steady_clock::now();
    auto result = generator->generate(p, [&](const std::string& stage, int64_t done, int64_t total) {
      if (stage == "sample") {
        bar.set_note(std::to_string(done) + "/" + std::to_string(total) + " codes");
        bar.set_done(done);
      } else {
        bar.set_note(stage);
      }
      return true;
    });
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto summary = couture::write_result_folder(p, result, model_name, dir, seconds);
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
  cmd.add_option("--init-image", o.init_image, "Variations of this design: keep its first code rows, generate the rest");
  cmd.add_option("--init-codes", o.init_codes_kept, "Codes kept from --init-image (0: the original's 43.75%)");
  cmd.add_option("--model", o.model, "Model bundle folder (default: $COUTURE_MODEL, else models/default)");
  cmd.add_option("--out", o.out, "Output folder");
  cmd.add_flag("--bf16", o.bf16, "bf16 weights and matmuls for the transformer");
  cmd.callback([] { run(o); });
}
