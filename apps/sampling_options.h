// The sampling options `couture generate` and `couture eval generate` share, and the bundle's defaults for those
// not given on the command line (model.json "defaults").
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "generate/generate_params.h"

namespace couture::app {

inline void add_sampling_options(CLI::App& cmd, GenerateParams& p) {
  cmd.add_option("-n,--candidates", p.n, "Candidates sampled (1..64)");
  cmd.add_option("--top", p.top, "Best candidates kept after reranking");
  cmd.add_option("--seed", p.seed, "Candidate i uses seed + i");
  cmd.add_option("--temperature", p.temperature, "Sampling temperature (0: greedy)");
  cmd.add_option("--top-k", p.top_k, "Keep the k most likely codes (0: off)");
  cmd.add_option("--top-p", p.top_p, "Keep the smallest set of codes holding this probability (1: off)");
  cmd.add_option("--cond-scale", p.cond_scale, "Classifier-free guidance scale (1: off)");
  cmd.add_option("--negative-prompt", p.negative_prompt,
                 "What guidance steers away from instead of the empty caption (e.g. 체크); needs --cond-scale != 1");
  cmd.add_option("--attribute-weight", p.attribute_weight,
                 "Rerank by the category, colour and print the prompt names too (0: similarity alone)");
  cmd.add_option("--prompt-as", p.prompt_as,
                 "What the models read: typed (the prompt as typed) or understood (the label-template caption of "
                 "the attributes understood in it)")
      ->check(CLI::IsMember({kPromptAsTyped, kPromptAsUnderstood}));
}

// `params` with every setting the command line did not give taken from the bundle's defaults (the generator's
// describe()["defaults"]); couture::with_defaults is the rule, this only says which options were given.
inline GenerateParams with_bundle_defaults(const CLI::App& cmd, const GenerateParams& params,
                                           const nlohmann::json& defaults) {
  return with_defaults(params, SamplingDefaults::from_json(defaults), [&](const std::string& field) {
    std::string option = field == "n" ? "-n" : "--" + field;
    for (char& c : option)
      if (c == '_') c = '-';
    return cmd.count(option) > 0;
  });
}

}  // namespace couture::app
