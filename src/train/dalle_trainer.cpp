#include "train/dalle_trainer.h"

#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "data/code_shards.h"
#include "data/dataset.h"
#include "data/stable_hash.h"
#include "data/training_captions.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/dalle.h"
#include "models/dalle_sampling.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "text/wordpiece.h"
#include "train/sharding.h"

namespace couture {
namespace fs = std::filesystem;
namespace {

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The vocabulary's identity: its tokens in id order (the same whichever file format carried them).
std::string vocab_hash(const Vocab& vocab) {
  std::string all;
  for (const auto& t : vocab.tokens) all += t, all += '\n';
  return hex64(stable_hash(all));
}

// The model config: the preset sized to the vocab and the VQGAN, or a --config file that must agree with them.
DalleConfig resolve_config(const DalleTrainOptions& o, const WordPieceTokenizer& tok, const CodesHeader& codes) {
  const int64_t vocab_size = int64_t(tok.vocab_size()), grid = codes.grid_h, n_embed = codes.n_embed;
  COUTURE_CHECK_INPUT(codes.grid_h == codes.grid_w, "the VQGAN's code grid is ", codes.grid_h, "x", codes.grid_w,
                      "; the DALL-E image positions need a square grid");
  DalleConfig c;
  if (o.config) {
    const std::string where = o.config->string();
    c = DalleConfig::from_json(read_json_file(*o.config), where);
    COUTURE_CHECK_INPUT(c.num_text_tokens == vocab_size, where, ": num_text_tokens is ", c.num_text_tokens,
                        " but the vocab '", o.vocab.string(), "' has ", vocab_size, " tokens");
    COUTURE_CHECK_INPUT(c.image_fmap_size == grid && c.num_image_tokens == n_embed, where, ": image_fmap_size ",
                        c.image_fmap_size, " and num_image_tokens ", c.num_image_tokens, " but the VQGAN '",
                        o.vqgan.string(), "' gives a ", grid, "x", grid, " grid of ", n_embed, " codes");
    COUTURE_CHECK_INPUT(c.text_pad_id < 0 || c.text_pad_id == tok.pad_id(), where, ": text_pad_id is ",
                        c.text_pad_id, " but the vocab's [PAD] id is ", tok.pad_id());
  } else {
    c = DalleConfig::preset(o.preset);
    c.num_text_tokens = vocab_size;
    if (c.image_fmap_size != grid || c.num_image_tokens != n_embed)
      log::info("train dalle: preset " + o.preset + " sized to the VQGAN: " + std::to_string(grid) + "x" +
                std::to_string(grid) + " codes of " + std::to_string(n_embed));
    c.image_fmap_size = grid, c.num_image_tokens = n_embed;
  }
  c.text_pad_id = tok.pad_id();
  c.null_caption_prob = o.null_caption_prob;
  c.validate(o.config ? o.config->string() : "preset " + o.preset);
  return c;
}

}  // namespace

std::map<std::string, std::string> dalle_metadata(const nlohmann::json& config, const std::string& vocab_hash,
                                                  const std::string& vqgan_fingerprint) {
  return {{"format", "couture-dalle"},
          {"config", config.dump()},
          {"vocab_hash", vocab_hash},
          {"vqgan_fingerprint", vqgan_fingerprint}};
}

void train_dalle(const DalleTrainOptions& o) {
  const auto& s = o.settings;
  const auto device = parse_device(s.device);
  auto dist = join_distributed_from_env(device);
  const bool main_rank = !dist || dist->is_main();
  const TrainingCaptions caption_source(parse_caption_mode(o.caption));
  const auto tok = WordPieceTokenizer::load(o.vocab);
  Dataset train = Dataset::open(s.dataset, "train"), test = Dataset::open(s.dataset, "test");

  // Codes: encoded once by rank 0 (reused when made by this VQGAN), then checked by every rank.
  const fs::path vqgan_file = resolve_vqgan_file(o.vqgan);
  const fs::path codes_dir = o.codes ? *o.codes : s.dataset / "codes";
  if (main_rank) {
    EncodeOptions e;
    e.dataset = s.dataset, e.vqgan = vqgan_file, e.out = codes_dir, e.batch = o.encode_batch, e.device = s.device;
    auto summary = encode_dataset(e);
    if (!summary.reused) log::info(summary.line());
  }
  if (dist) dist->barrier();
  const Fingerprint fingerprint = file_fingerprint(vqgan_file);
  CodeShard train_codes = CodeShard::open(codes_dir / "train.codes", fingerprint);
  CodeShard test_codes = CodeShard::open(codes_dir / "test.codes", fingerprint);
  COUTURE_CHECK_INPUT(train_codes.size() == train.size() && test_codes.size() == test.size(), "the codes in '",
                      codes_dir.string(), "' do not match the dataset's splits; run couture encode again");

  DalleConfig config = resolve_config(o, tok, train_codes.header());
  const std::string vhash = vocab_hash(tok.vocab()), vq_hex = fingerprint_hex(fingerprint);
  nlohmann::json model_json = {{"config", config.to_json()},
                               {"vqgan", fs::absolute(vqgan_file).lexically_normal().string()},
                               {"vqgan_fingerprint", vq_hex},
                               {"vocab_hash", vhash},
                               {"caption", o.caption},
                               {"weight_decay", o.weight_decay},
                               {"beta2", o.beta2},
                               {"clip", o.clip}};
  write_run_info(s, "train dalle", model_json, dist.get());
  if (main_rank) write_vocab_txt(s.out / "vocab.txt", tok.vocab());

  torch::manual_seed(s.seed);
  Dalle model(config);
  if (o.init_text) init_text_embeddings(*model, SafetensorsFile::open(*o.init_text));
  model->to(device);
  if (main_rank)
    log::info("train dalle: " + std::to_string(model->parameter_count()) + " parameters, " +
              std::to_string(config.text_seq_len) + " text + " + std::to_string(config.image_seq_len()) +
              " image positions, vocab " + std::to_string(config.num_text_tokens));
  // Decay on the matmul and embedding weights only (norms, biases and LayerScale are left alone).
  std::vector<at::Tensor> decay, no_decay;
  for (auto& p : model->parameters()) (p.dim() == 2 ? decay : no_decay).push_back(p);
  auto options = torch::optim::AdamWOptions(s.lr).betas({0.9, o.beta2});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options.weight_decay(o.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options.weight_decay(0.0)));
  torch::optim::AdamW opt(groups, options);
  const auto metadata = dalle_metadata(config.to_json(), vhash, vq_hex);
  TrainingState state{{{"model", model.ptr().get(), &opt, metadata}}};
  ShardedSampler sampler(train.size(), s.batch, s.seed, dist ? dist->rank() : 0, dist ? dist->world_size() : 1);

  const size_t T = size_t(config.text_seq_len);
  std::vector<int32_t> ids;
  // [B, T] token ids of the records' captions (drawn per record and step for "both" and "varied"; the stored full
  // caption for validation and samples).
  auto captions = [&](const Dataset& data, const std::vector<int64_t>& idx, int64_t step, bool draw) {
    auto out = at::empty({int64_t(idx.size()), int64_t(T)}, at::kLong);
    int64_t* dst = out.data_ptr<int64_t>();
    for (size_t b = 0; b < idx.size(); ++b) {
      const auto record = data.record(idx[b]);
      const auto text = caption_source.caption(
          record, draw ? std::optional<uint64_t>(caption_draw(uint64_t(s.seed), step, idx[b])) : std::nullopt);
      tok.encode_ids(text.text, T, ids);
      for (size_t t = 0; t < T; ++t) dst[b * T + t] = ids[t];
    }
    return out;
  };

  LoopHooks hooks;
  hooks.step = [&](int64_t step) {
    model->train();
    for (auto& g : opt.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(warmup_cosine(step - 1, s.warmup, s.steps, s.lr));
    const auto idx = sampler.batch(step);
    auto text = captions(train, idx, step, true).to(device);
    auto codes = train_codes.batch(idx).to(device);
    opt.zero_grad();
    DalleLoss l;
    {
      Bf16Autocast autocast(s.bf16, device);
      l = model->loss(text, codes);  // null captions drawn from the global generator (checkpointed)
    }
    const double loss = l.loss.item<double>();
    Metrics m{{"loss", loss}, {"text_loss", l.text_loss.item<double>()}, {"image_loss", l.image_loss.item<double>()}};
    if (!std::isfinite(loss) && !dist) return m;  // several ranks: all join the all-reduce, all skip (clip_trainer)
    l.loss.backward();
    m["grad_norm"] = apply_gradients(*model, opt, o.clip, dist.get());
    m["lr"] = warmup_cosine(step - 1, s.warmup, s.steps, s.lr);
    return m;
  };
  std::vector<int64_t> held_out;
  for (int64_t i = 0; i < std::min<int64_t>(test.size(), 512); ++i) held_out.push_back(i);
  hooks.validate = [&](int64_t) {
    torch::NoGradGuard no_grad;
    model->eval();
    double sum = 0, text_sum = 0, image_sum = 0;
    for (size_t start = 0; start < held_out.size(); start += 64) {
      std::vector<int64_t> idx(held_out.begin() + long(start),
                               held_out.begin() + long(std::min(held_out.size(), start + 64)));
      auto l = model->loss(captions(test, idx, 0, false).to(device), test_codes.batch(idx).to(device));
      const double n = double(idx.size());
      sum += l.loss.item<double>() * n, text_sum += l.text_loss.item<double>() * n;
      image_sum += l.image_loss.item<double>() * n;
    }
    const double n = double(std::max<size_t>(held_out.size(), 1));
    return Metrics{{"val_loss", sum / n}, {"val_text_loss", text_sum / n}, {"val_image_loss", image_sum / n}};
  };
  VQModel vqgan{nullptr};  // loaded on first use: only rank 0 samples
  hooks.sample = [&](int64_t step) {
    torch::NoGradGuard no_grad;
    if (!vqgan) {
      vqgan = load_vqgan(vqgan_file);
      vqgan->eval();
    }
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < std::min<int64_t>(test.size(), o.sample_captions); ++i) idx.push_back(i);
    auto text = captions(test, idx, 0, false);
    std::vector<Image> generated, real;
    std::string listing;
    SampleParams p;
    p.seed = s.seed;
    p.top_k = std::max<int64_t>(1, config.num_image_tokens / 8);  // about the original's filter_thres 0.9
    for (size_t i = 0; i < idx.size(); ++i) {
      auto codes = sample_codes(model, text[int64_t(i)].to(device), p).codes.cpu();
      generated.push_back(image_from_tensor(vqgan->decode_codes(codes)[0]));
      real.push_back(test.image_copy(idx[i]));
      listing += std::to_string(i + 1) + ". " + test.record(idx[i]).captions.at(0) + "\n";
    }
    std::vector<Image> tiles = generated;
    tiles.insert(tiles.end(), real.begin(), real.end());
    Image grid = tile_images(tiles, int(std::max<size_t>(idx.size(), 1)));
    const std::string note = "top row generated (top_k " + std::to_string(p.top_k) + ", seed " +
                             std::to_string(p.seed) + "), bottom row real, step " + std::to_string(step) + ":\n" +
                             listing;
    write_png(s.out / "samples" / ("step-" + std::to_string(step) + ".png"), grid, note);
    write_png(s.out / "samples.png", grid, note);
  };
  run_training_loop(loop_options(s, "train dalle", dist), state, hooks);
  if (main_rank) {
    model->to(torch::kCPU);
    save_tensors(s.out / "dalle.safetensors", state_dict(*model), metadata);
    log::info("train dalle: wrote " + (s.out / "dalle.safetensors").string());
  }
}

}  // namespace couture
