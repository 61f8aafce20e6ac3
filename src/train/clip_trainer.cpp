#include "train/clip_trainer.h"

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/training_captions.h"
#include "io/safetensors.h"
#include "models/clip.h"
#include "nn/tensor_io.h"
#include "train/attribute_labels.h"
#include "text/wordpiece.h"
#include "train/sharding.h"

namespace couture {
namespace {

namespace F = torch::nn::functional;

// Linear heads reading category, colour and print from an image embedding (--attribute-weight).
struct AttributeHeadsImpl : torch::nn::Module {
  AttributeHeadsImpl(int64_t dim, const AttributeClasses& classes)
      : category(register_module("category", torch::nn::Linear(dim, int64_t(classes.categories.size())))),
        colour(register_module("colour", torch::nn::Linear(dim, int64_t(classes.colours.size())))),
        print(register_module("print", torch::nn::Linear(dim, int64_t(classes.prints.size())))) {}
  AttributeLogits forward(const at::Tensor& x) { return {category(x), colour(x), print(x)}; }
  torch::nn::Linear category, colour, print;
};
TORCH_MODULE(AttributeHeads);

// Dataset images [B,3,H,W] in [-1,1] at the model's input size (antialiased when shrinking).
at::Tensor fit_images(const at::Tensor& x, int64_t size) {
  if (x.size(2) == size && x.size(3) == size) return x;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{size, size})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(x.size(2) > size));
}

std::vector<std::string> full_captions(const Dataset& split, int64_t count) {
  std::vector<std::string> out;
  out.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    auto r = split.record(i);
    COUTURE_CHECK_INPUT(!r.captions.empty() && !r.captions[0].empty(), "dataset '", split.dir().string(), "' ",
                        split.split(), " record ", i, ": no caption");
    out.push_back(std::move(r.captions[0]));
  }
  return out;
}

std::vector<std::string> pick(const std::vector<std::string>& all, const std::vector<int64_t>& idx) {
  std::vector<std::string> out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(all[size_t(i)]);
  return out;
}

// The attributes hard negatives change, and the values each takes in the training split (main parts only).
const std::vector<std::string>& negative_attributes() {
  static const std::vector<std::string> names = {"카테고리", "색상", "프린트"};
  return names;
}

std::map<std::string, std::vector<std::string>> attribute_values(const Dataset& split) {
  std::map<std::string, std::set<std::string>> seen;
  for (int64_t i = 0; i < split.size(); ++i) {
    const auto r = split.record(i);
    const std::string* values[] = {&r.category, &r.colour, &r.print};
    for (size_t a = 0; a < 3; ++a)
      if (!values[a]->empty()) seen[negative_attributes()[a]].insert(*values[a]);
  }
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [name, values] : seen) out[name].assign(values.begin(), values.end());
  return out;
}

bool is_projection(const std::string& name) {
  return name.rfind("image_projection.", 0) == 0 || name.rfind("text_projection.", 0) == 0 || name == "logit_scale";
}

}  // namespace

ClipTrainDefaults clip_train_defaults(const std::string& preset) {
  // kodalle: the original's learning rates (4e-5 towers, 5e-5 projections). fmnist: small towers trained
  // from scratch in ~15 minutes need a larger rate; 5e-4 is OpenAI CLIP's for its smallest models (docs/clip.md).
  if (preset == "kodalle") return {20000, 32, 4e-5, 5e-5, 500};
  if (preset == "fmnist") return {1200, 64, 5e-4, 5e-4, 100};
  if (preset == "tiny") return {100, 16, 1e-3, 1e-3, 10};
  throw InputError("unknown CLIP preset '" + preset + "' (expected kodalle, fmnist or tiny)");
}

void train_clip(const ClipTrainOptions& options) {
  ClipTrainOptions o = options;
  auto& s = o.settings;
  const ClipTrainDefaults d = clip_train_defaults(o.preset);
  if (s.steps <= 0) s.steps = d.steps;
  if (s.batch <= 0) s.batch = d.batch;
  if (s.warmup < 0) s.warmup = d.warmup;
  if (s.lr <= 0) s.lr = d.lr;
  if (o.projection_lr <= 0) o.projection_lr = s.lr * d.projection_lr / d.lr;
  COUTURE_CHECK_INPUT(s.batch >= 2, "train clip: --batch must be at least 2 (the loss contrasts pairs)");
  COUTURE_CHECK_INPUT(o.hard_negatives >= 0 && o.hard_negatives <= 8, "train clip: --hard-negatives must be 0 to 8, got ",
                      o.hard_negatives);
  COUTURE_CHECK_INPUT(o.attribute_weight >= 0 && std::isfinite(o.attribute_weight),
                      "train clip: --attribute-weight must be 0 or more, got ", o.attribute_weight);
  const TrainingCaptions caption_source(parse_caption_mode(o.caption));

  const auto device = parse_device(s.device);
  auto dist = join_distributed_from_env(device);
  const bool main_rank = !dist || dist->is_main();
  // Ranks would hold different numbers of negatives, which the gathered contrast does not handle yet.
  COUTURE_CHECK_INPUT(!dist || o.hard_negatives == 0, "train clip: --hard-negatives needs a single process");
  COUTURE_CHECK_INPUT(!dist || o.attribute_weight == 0, "train clip: --attribute-weight needs a single process");
  Dataset train = Dataset::open(s.dataset, "train"), test = Dataset::open(s.dataset, "test");
  COUTURE_CHECK_INPUT(train.size() >= s.batch, "dataset '", s.dataset.string(), "': ", train.size(),
                      " training records, fewer than one batch of ", s.batch);
  WordPieceTokenizer tokenizer = WordPieceTokenizer::load(o.vocab);

  ClipConfig config = ClipConfig::preset(o.preset);
  config.loss = parse_clip_loss(o.loss);
  config.set_vocab(int64_t(tokenizer.vocab_size()), tokenizer.pad_id());
  nlohmann::json model_json = {{"config", config.to_json()},      {"vocab", o.vocab.string()},
                               {"projection_lr", o.projection_lr}, {"weight_decay", o.weight_decay},
                               {"grad_clip", o.grad_clip},         {"val_records", o.val_records},
                               {"caption", o.caption},             {"hard_negatives", o.hard_negatives}};
  if (o.attribute_weight > 0) model_json["attribute_weight"] = o.attribute_weight;
  if (!o.init_from.empty()) model_json["init_from"] = o.init_from.string();
  write_run_info(s, "train clip", model_json, dist.get());

  const auto values = o.hard_negatives > 0 ? attribute_values(train) : std::map<std::string, std::vector<std::string>>{};
  const int64_t n_val = std::min<int64_t>(test.size(), o.val_records);
  const auto test_captions = full_captions(test, n_val);
  if (main_rank)
    log::info("train clip: " + std::to_string(train.size()) + " training pairs, " + std::to_string(n_val) +
              " validation pairs, preset " + o.preset + ", loss " + o.loss + ", captions " + o.caption + ", " +
              std::to_string(o.hard_negatives) + " hard negatives per image, " + std::to_string(s.steps) +
              " steps of " + std::to_string(s.batch) + ", lr " + std::to_string(s.lr));

  torch::manual_seed(s.seed);
  Clip model(config);
  model->reset_parameters(at::detail::createCPUGenerator(s.seed + 29));
  if (!o.init_from.empty()) {
    const auto file = SafetensorsFile::open(o.init_from);
    const ClipConfig from = clip_config_from(file);
    COUTURE_CHECK_INPUT(nlohmann::json(from.to_json()) == nlohmann::json(config.to_json()), "train clip: --init-from '",
                        o.init_from.string(), "' was trained with another config or vocabulary than --preset ",
                        o.preset, " with ", o.vocab.string());
    load_state_dict(*model, file, o.init_from.string());
  }
  model->to(device);
  // Augmentation and stochastic depth draw from the global CPU generator, which checkpoints save and restore.
  at::Generator generator = at::detail::getDefaultCPUGenerator();

  // The auxiliary attribute heads, on the projected image embedding.
  AttributeLabels labels;
  AttributeHeads heads{nullptr};
  if (o.attribute_weight > 0) {
    labels = read_attribute_labels(train, nullptr);
    heads = AttributeHeads(config.projection_dim, labels.classes);
    heads->to(device);
  }

  // Four groups: {towers, projections} x {decayed weights, the rest}; each keeps its own peak rate. The heads
  // learn with the projections.
  std::vector<torch::Tensor> groups[2][2];
  for (const auto& p : model->named_parameters(true))
    groups[is_projection(p.key())][p.value().dim() >= 2].push_back(p.value());
  if (heads)
    for (const auto& p : heads->named_parameters(true)) groups[1][p.value().dim() >= 2].push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  std::vector<double> peak_lr;
  for (int proj = 0; proj < 2; ++proj)
    for (int decay = 0; decay < 2; ++decay) {
      if (groups[proj][decay].empty()) continue;
      const double lr = proj ? o.projection_lr : s.lr;
      auto opts = std::make_unique<torch::optim::AdamWOptions>(lr);
      opts->betas({0.9, 0.98}).eps(1e-6).weight_decay(decay ? o.weight_decay : 0.0);
      param_groups.emplace_back(groups[proj][decay], std::move(opts));
      peak_lr.push_back(lr);
    }
  torch::optim::AdamW opt(param_groups, torch::optim::AdamWOptions(s.lr).betas({0.9, 0.98}).eps(1e-6));
  TrainingState state{{{"model", model.ptr().get(), &opt, clip_metadata(config)}}};
  if (heads) state.parts.push_back({"attribute_heads", heads.ptr().get(), nullptr, {}});
  ShardedSampler sampler(train.size(), s.batch, s.seed, dist ? dist->rank() : 0, dist ? dist->world_size() : 1);

  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    const double factor = warmup_cosine(step - 1, s.warmup, s.steps, 1.0);
    for (size_t g = 0; g < opt.param_groups().size(); ++g)
      static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[g].options()).lr(peak_lr[g] * factor);
    model->train();
    auto idx = sampler.batch(step);
    auto images = augment_garments(fit_images(images_to_tensor(train, idx), config.image_size), generator);
    // Captions, and the hard negatives: per record and step, an attribute its caption states changed to another
    // value of the training split (drawn from the record's own stream, so a resumed run draws the same).
    std::vector<std::string> captions, negatives;
    for (int64_t i : idx) {
      const auto record = train.record(i);
      const uint64_t draw = caption_draw(uint64_t(s.seed), step, i);
      auto truth = caption_source.caption(record, draw);
      std::mt19937_64 rng(draw ^ 0x9e3779b97f4a7c15ull);
      for (int64_t k = 0; k < o.hard_negatives; ++k) {
        const auto& attribute = negative_attributes()[size_t(rng() % negative_attributes().size())];
        const auto it = values.find(attribute);
        const auto current = truth.expressed.first_value(attribute);
        if (it == values.end() || it->second.size() < 2 || current.empty()) continue;
        std::string other = current;
        while (other == current) other = it->second[size_t(rng() % it->second.size())];
        if (auto negative = caption_source.with_value(record, draw, attribute, other))
          negatives.push_back(std::move(*negative));
      }
      captions.push_back(std::move(truth.text));
    }
    auto text = tokenize_captions(tokenizer, captions, config.max_text_tokens);
    auto text_embeddings = model->encode_text(text.ids.to(device), text.mask.to(device));
    auto image_embeddings = model->encode_image(images.to(device));
    at::Tensor negative_embeddings;
    if (!negatives.empty()) {
      auto neg = tokenize_captions(tokenizer, negatives, config.max_text_tokens);
      negative_embeddings = model->encode_text(neg.ids.to(device), neg.mask.to(device));
    }
    at::Tensor attribute_term;
    if (heads)  // on this rank's own images, before they are gathered
      attribute_term = attribute_loss(heads->forward(image_embeddings.to(at::kFloat)), labels,
                                      torch::tensor(idx, torch::kLong).to(device));
    if (dist) {  // contrast against the whole global batch, as one process holding it would
      text_embeddings = dist->all_gather(text_embeddings);
      image_embeddings = dist->all_gather(image_embeddings);
    }
    auto loss = negative_embeddings.defined()
                    ? clip_loss(model->logits(text_embeddings, image_embeddings),
                                model->logits(negative_embeddings, image_embeddings))
                    : model->loss(text_embeddings, image_embeddings);
    const double contrast = loss.item<double>();
    if (attribute_term.defined()) loss = loss + o.attribute_weight * attribute_term;
    const double value = loss.item<double>();
    // Alone, a non-finite loss skips the step here; on several ranks every rank must still join the all-reduce,
    // whose non-finite average then makes all of them skip it alike.
    if (!std::isfinite(value) && !dist) return Metrics{{"loss", value}};
    loss.backward();
    const double norm = apply_gradients(*model, opt, o.grad_clip, dist.get());
    Metrics m{{"loss", value}, {"grad_norm", norm}, {"lr", peak_lr[0] * factor}};
    if (attribute_term.defined()) m["contrast_loss"] = contrast, m["attribute_loss"] = attribute_term.item<double>();
    if (model->logit_scale.defined()) m["logit_scale"] = model->logit_scale.exp().item<double>();
    return m;
  };
  hooks.validate = [&](int64_t) {
    torch::NoGradGuard no_grad;
    model->eval();
    double loss = 0;
    int64_t hits = 0, counted = 0, batches = 0;
    for (int64_t start = 0; start + 2 <= n_val; start += 100) {
      std::vector<int64_t> idx;
      for (int64_t i = start; i < std::min(n_val, start + 100); ++i) idx.push_back(i);
      auto text = tokenize_captions(tokenizer, pick(test_captions, idx), config.max_text_tokens);
      auto t = model->encode_text(text.ids.to(device), text.mask.to(device));
      auto im = model->encode_image(fit_images(images_to_tensor(test, idx), config.image_size).to(device));
      auto logits = model->logits(t, im).to(at::kFloat).cpu();
      loss += clip_loss(logits).item<double>();
      hits += logits.argmax(1).eq(at::arange(logits.size(0), at::kLong)).sum().item<int64_t>();
      counted += logits.size(0);
      ++batches;
    }
    if (batches == 0) return Metrics{};
    return Metrics{{"val_loss", loss / double(batches)}, {"val_recall1_t2i", double(hits) / double(counted)}};
  };
  run_training_loop(loop_options(s, "train clip", dist), state, hooks);
  if (main_rank) {
    model->to(torch::kCPU);
    save_clip(s.out / "clip.safetensors", *model);
    write_vocab_txt(s.out / "vocab.txt", tokenizer.vocab());
    log::info("train clip: wrote " + (s.out / "clip.safetensors").string() + " and " +
              (s.out / "vocab.txt").string());
  }
}

}  // namespace couture
