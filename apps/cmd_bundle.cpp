// couture bundle --vocab V --vqgan RUN --dalle RUN [--clip RUN] [--dataset D] --out DIR: puts trained models together
// into a model bundle (docs/formats.md): copies the files, writes model.json with their configs and how they were
// made, then loads the result as `couture generate` would, so a bundle that is written is one that works.
// couture bundle --update DIR [--defaults J] [--dataset D]: changes an existing bundle's model.json only.
#include <cstdio>

#include "command.h"
#include "core/error.h"
#include "data/dataset.h"
#include "generate/bundle.h"
#include "generate/generator.h"
#include "train/attribute_labels.h"

namespace {

struct BundleOptions {
  couture::BundleSources sources;
  std::string vocab, vqgan, dalle, clip, out, update, dataset, defaults = "{}", provenance = "{}";
};

// The category, colour and print values of a prepared dataset's training split: what the models learnt.
couture::AttributeValues attribute_values_of(const std::string& dataset) {
  const auto classes = couture::read_attribute_labels(couture::Dataset::open(dataset, "train"), nullptr).classes;
  couture::AttributeValues values;
  if (!classes.categories.empty()) values["카테고리"] = classes.categories;
  if (!classes.colours.empty()) values["색상"] = classes.colours;
  if (!classes.prints.empty()) values["프린트"] = classes.prints;
  COUTURE_CHECK_INPUT(!values.empty(), "--dataset ", dataset,
                      ": its training split names no category, colour or print");
  return values;
}

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
  cmd.add_option("--vocab", o.vocab, "vocab.txt (or a folder holding one)");
  cmd.add_option("--vqgan", o.vqgan, "`train vqgan` run folder or vqgan.safetensors");
  cmd.add_option("--dalle", o.dalle, "`train dalle` run folder or dalle.safetensors");
  cmd.add_option("--clip", o.clip, "`train clip` run folder or clip.safetensors (the reranker; optional)");
  cmd.add_option("--dataset", o.dataset,
                 "Prepared dataset the models learnt from: its category, colour and print values go into model.json "
                 "(attribute reranking and the studio's pickers use them)");
  cmd.add_option("--name", o.sources.name, "The bundle's name (shown by the studio and in PNGs)");
  cmd.add_option("--defaults", o.defaults, "JSON object of generate settings a request does not set");
  cmd.add_option("--provenance", o.provenance, "JSON object added to model.json's provenance");
  cmd.add_option("--out", o.out, "Bundle folder to write");
  cmd.add_option("--update", o.update,
                 "An existing bundle whose model.json alone changes: --defaults merged in, --dataset's values");
  cmd.add_flag("--bf16-weights", o.sources.bf16_weights,
               "Store the models' matrices and kernels as BF16 (half the bytes; biases and norms stay F32)");
  cmd.callback([] {
    couture::SamplingDefaults defaults;
    try {
      defaults = couture::SamplingDefaults::from_json(parse_object(o.defaults, "--defaults"));
    } catch (const couture::FieldError& e) {
      throw couture::InputError(std::string("--defaults: ") + e.what());
    }
    const auto provenance = parse_object(o.provenance, "--provenance");
    const auto values = o.dataset.empty() ? couture::AttributeValues{} : attribute_values_of(o.dataset);
    std::string out = o.out;
    if (!o.update.empty()) {
      COUTURE_CHECK_INPUT(o.vocab.empty() && o.vqgan.empty() && o.dalle.empty() && o.clip.empty() && o.out.empty() &&
                              !o.sources.bf16_weights,
                          "--update changes model.json only; --vocab, --vqgan, --dalle, --clip, --out and "
                          "--bf16-weights belong to writing a new bundle");
      nlohmann::json note = {{"defaults", defaults.to_json()}};
      if (!o.dataset.empty()) note["attribute_values_from"] = o.dataset;
      note.update(provenance);
      couture::update_bundle(o.update, defaults, values, note);
      out = o.update;
    } else {
      COUTURE_CHECK_INPUT(!o.vocab.empty() && !o.vqgan.empty() && !o.dalle.empty() && !o.out.empty(),
                          "bundle: --vocab, --vqgan, --dalle and --out are required (or --update BUNDLE)");
      o.sources.vocab = o.vocab;
      o.sources.vqgan = o.vqgan;
      o.sources.dalle = o.dalle;
      o.sources.reranker = o.clip;
      o.sources.defaults = defaults;
      o.sources.attribute_values = values;
      o.sources.extra_provenance = provenance;
      couture::write_bundle(o.sources, o.out);
    }
    auto generator = couture::load_generator({out});
    std::printf("%s\n", generator->describe().dump().c_str());
  });
}
