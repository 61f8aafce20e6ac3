// couture bundle --vocab V --vqgan RUN --dalle RUN [--clip RUN] --out DIR: puts trained models together into a model
// bundle (docs/formats.md): copies the files, writes model.json with their configs and how they were made, then loads
// the result as `couture generate` would, so a bundle that is written is one that works.
#include <cstdio>

#include "command.h"
#include "core/error.h"
#include "generate/bundle.h"
#include "generate/generator.h"

namespace {

struct BundleOptions {
  couture::BundleSources sources;
  std::string vocab, vqgan, dalle, clip, out, defaults = "{}", provenance = "{}";
};

nlohmann::json parse_object(const std::string& text, const std::string& option) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw couture::InputError(option + ": not valid JSON: " + e.what());
  }
  COUTURE_CHECK_INPUT(j.is_object(), option, ": must be a JSON object");
  return j;
}

}  // namespace

COUTURE_COMMAND("bundle", "Put a vocabulary, VQGAN, DALL-E and reranker together into a model bundle") {
  static BundleOptions o;
  cmd.add_option("--vocab", o.vocab, "vocab.txt (or a folder holding one)")->required();
  cmd.add_option("--vqgan", o.vqgan, "`train vqgan` run folder or vqgan.safetensors")->required();
  cmd.add_option("--dalle", o.dalle, "`train dalle` run folder or dalle.safetensors")->required();
  cmd.add_option("--clip", o.clip, "`train clip` run folder or clip.safetensors (the reranker; optional)");
  cmd.add_option("--name", o.sources.name, "The bundle's name (shown by the studio and in PNGs)");
  cmd.add_option("--defaults", o.defaults, "JSON object of generate settings a request does not set");
  cmd.add_option("--provenance", o.provenance, "JSON object added to model.json's provenance");
  cmd.add_option("--out", o.out, "Bundle folder to write")->required();
  cmd.add_flag("--bf16-weights", o.sources.bf16_weights,
               "Store the models' matrices and kernels as BF16 (half the bytes; biases and norms stay F32)");
  cmd.callback([] {
    o.sources.vocab = o.vocab;
    o.sources.vqgan = o.vqgan;
    o.sources.dalle = o.dalle;
    o.sources.reranker = o.clip;
    try {
      o.sources.defaults = couture::SamplingDefaults::from_json(parse_object(o.defaults, "--defaults"));
    } catch (const couture::FieldError& e) {
      throw couture::InputError(std::string("--defaults: ") + e.what());
    }
    o.sources.extra_provenance = parse_object(o.provenance, "--provenance");
    couture::write_bundle(o.sources, o.out);
    auto generator = couture::load_generator({o.out});
    std::printf("%s\n", generator->describe().dump().c_str());
  });
}
