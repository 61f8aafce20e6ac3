// The bundle's Generator: caption -> N candidates sampled in one KV-cached batch -> decoded in batches -> reranked.
#include "generate/generator.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/dalle.h"
#include "models/dalle_sampling.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "generate/attribute_rerank.h"
#include "generate/bundle.h"
#include "generate/rerank.h"
#include "text/prompt_parse.h"
#include "text/wordpiece.h"

namespace couture {
namespace {

// Images decoded at once: 16 at 64 px, 4 at 256 px in bf16 (2 in fp32, whose activations take twice the bytes).
// The decoder's activations grow with batch x pixels while an image costs no more in a small batch: the random
// kodalle bundle's 16 -> 4 in bf16 peaked at 3.50 GB and decoded in 42.4 s in batches of 16, at 2.54 GB and in
// 32.7 s in batches of 4 (2.53 GB and 33.2 s in batches of 2: the rest of the peak is the models and the sampling;
// generate_bench, 2026-12-07); with the fp32 decoder in batches of 4 it peaked at 2.85 GB.
constexpr int64_t kDecodePixels = 4 * 256 * 256;
int64_t decode_batch(int64_t resolution, bool bf16) {
  const int64_t pixels = bf16 ? kDecodePixels : kDecodePixels / 2;
  return std::clamp<int64_t>(pixels / std::max<int64_t>(1, resolution * resolution), 1, 16);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Whether a 3x3 convolution of the decoder's widest level (`channels` in and out, at most 128 x 128 pixels) runs
// faster in bf16 NCHW than in fp32 channels-last here: the median of 3 runs each after a warm-up, about 0.3 s at
// the kodalle preset. Which wins depends on the CPU: bf16 by 1.6x on an AMD EPYC with AVX-512 bf16, fp32 by 1.5x on
// an Intel Xeon VM with the same flags (models_vqgan_bench; docs/vqgan.md).
bool bf16_convolution_is_faster(int64_t channels, int64_t side) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto x = at::randn({1, channels, side, side}, generator);
  const auto w = at::randn({channels, channels, 3, 3}, generator) * 0.05;
  auto time = [](const at::Tensor& input, const at::Tensor& weight) {
    std::vector<double> runs;
    for (int r = 0; r < 4; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      at::conv2d(input, weight, {}, 1, 1);
      if (r > 0) runs.push_back(seconds_since(t0));
    }
    std::sort(runs.begin(), runs.end());
    return runs[runs.size() / 2];
  };
  const double fp32 = time(x.contiguous(at::MemoryFormat::ChannelsLast), w.contiguous(at::MemoryFormat::ChannelsLast));
  const double bf16 = time(x.to(at::kBFloat16), w.to(at::kBFloat16));
  return bf16 < fp32;
}

at::Tensor ids_tensor(const std::vector<int32_t>& ids) {
  return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
}

class BundleGenerator : public Generator {
 public:
  explicit BundleGenerator(const LoadParams& params)
      : manifest_(BundleManifest::load(params.model_dir)),
        tokenizer_(std::make_shared<const WordPieceTokenizer>(WordPieceTokenizer::load(manifest_.vocab))),
        vqgan_(load_vqgan(manifest_.vqgan)),
        dalle_(load_dalle(manifest_.dalle, {}, params.bf16 ? at::kBFloat16 : at::kFloat)),
        bf16_(params.bf16) {
    if (!manifest_.reranker.empty())
      scorer_.emplace(load_clip(manifest_.reranker), tokenizer_,
                      ClipScorerOptions{params.bf16});
    check_consistency();
    vqgan_->eval();
    // With bf16, the decoder runs in bf16 too where that is faster (about 2x at 256 px on the AMD EPYC: 0.87
    // against 1.69 s an image in models_vqgan_bench; slower on the Intel Xeon VM, see bf16_convolution_is_faster);
    // the encoder stays F32, so that variations pick the same codes as without it.
    const auto& vc = vqgan_->config();
    const int64_t widest = vc.ch * vc.ch_mult.front(), side = std::min<int64_t>(vc.resolution, 128);
    decoder_bf16_ = bf16_ && (params.decoder == "auto" ? bf16_convolution_is_faster(widest, side)
                                                       : params.decoder == "bf16");
    if (decoder_bf16_) {
      vqgan_->post_quant_conv->to(at::kBFloat16);
      vqgan_->decoder->to(at::kBFloat16);
    } else {
      // fp32 decoding on oneDNN's channels-last kernels (the weights' layout picks them): an image in 1.38 instead
      // of 2.59 s at 256 px and 0.011 instead of 0.015 s at 64 px, equal to 1e-5 (models_vqgan_bench, 2026-12-07).
      // bf16 stays in NCHW: channels-last won at 256 px there but lost at 64 px.
      auto weights = vqgan_->decoder->parameters();
      weights.push_back(vqgan_->post_quant_conv->weight);
      for (auto& p : weights)
        if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
    dalle_->eval();
    if (params.packed) dalle_->pack_for_decoding(/*inference_only=*/true, params.int8);
    defaults_ = manifest_.defaults.to_json();
  }

  GenerateResult generate(const GenerateParams& params, const GenerateProgress& progress) override {
    params.validate();
    COUTURE_CHECK_INPUT(!params.prompt.empty(), "prompt: must not be empty");
    torch::NoGradGuard no_grad;
    const DalleConfig& dc = dalle_->config();
    GenerateResult result;
    auto t0 = std::chrono::steady_clock::now();
    if (params.prompt_as == kPromptAsUnderstood)
      result.caption = understood_caption_for(parse_prompt(params.prompt), manifest_.attribute_values);
    if (result.caption.empty()) result.caption = params.prompt;
    const auto text = tokenizer_->encode(result.caption, size_t(dc.text_seq_len));
    result.timings["tokenize"] = seconds_since(t0);

    SampleParams sp;
    sp.n = params.n;
    sp.seed = params.seed;
    sp.temperature = params.temperature;
    sp.top_k = params.top_k;
    sp.top_p = params.top_p;
    sp.cond_scale = params.cond_scale;
    if (!params.negative_prompt.empty())
      sp.negative_text = ids_tensor(tokenizer_->encode(params.negative_prompt, size_t(dc.text_seq_len)).ids);
    if (params.init_image) {  // a picture of the user's own: its codes, as for a design of ours
      sp.init_codes = torch::tensor(encode_image(*params.init_image), torch::kLong);
      sp.num_init_codes = params.num_init_codes > 0 ? std::min<int64_t>(params.num_init_codes, dc.image_seq_len())
                                                    : original_init_codes(dc.image_seq_len());
    } else if (!params.init_codes.empty()) {
      if (int64_t(params.init_codes.size()) != dc.image_seq_len())
        throw FieldError("init_codes", "init_codes: this model's designs have " + std::to_string(dc.image_seq_len()) +
                                           " codes, got " + std::to_string(params.init_codes.size()));
      for (int64_t c : params.init_codes)
        if (c < 0 || c >= dc.num_image_tokens)
          throw FieldError("init_codes", "init_codes: code " + std::to_string(c) + " is outside 0.." +
                                             std::to_string(dc.num_image_tokens - 1));
      sp.init_codes = torch::tensor(params.init_codes, torch::kLong);
      sp.num_init_codes = params.num_init_codes > 0 ? std::min<int64_t>(params.num_init_codes, dc.image_seq_len())
                                                    : original_init_codes(dc.image_seq_len());
    }
    t0 = std::chrono::steady_clock::now();
    auto sampled = sample_codes(dalle_, ids_tensor(text.ids), sp, [&](int64_t done, int64_t total) {
      return !progress || progress("sample", done, total);
    });
    result.timings["sample"] = seconds_since(t0);
    if (sampled.cancelled) return cancelled(std::move(result));

    t0 = std::chrono::steady_clock::now();
    const at::Tensor codes = sampled.codes;
    std::vector<at::Tensor> decoded;
    const int64_t batch = decode_batch(vqgan_->config().resolution, decoder_bf16_);
    for (int64_t start = 0; start < params.n; start += batch) {
      const int64_t end = std::min<int64_t>(params.n, start + batch);
      decoded.push_back(vqgan_->decode_codes(codes.slice(0, start, end)).to(at::kFloat).clamp(-1, 1));
      if (progress && !progress("decode", end, params.n)) return cancelled(std::move(result));
    }
    const at::Tensor images = torch::cat(decoded);
    std::vector<Image> pictures = images_from_batch(images);
    result.timings["decode"] = seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::vector<double> scores(size_t(params.n), 0.0);
    AttributeRerank attributes;
    if (scorer_) {
      // The pictures as delivered (8-bit), so that their scores are what any later scoring of the PNGs finds.
      auto ranked = score_candidates(*scorer_, result.caption, resize_to_batch(pictures, images.size(3)),
                                     params.attribute_weight, manifest_.attribute_values);
      attributes = std::move(ranked.attributes);
      scores.assign(ranked.score.data_ptr<double>(), ranked.score.data_ptr<double>() + ranked.score.numel());
    }
    if (progress) progress("rerank", 1, 1);
    result.timings["rerank"] = seconds_since(t0);

    const std::vector<int64_t> order = rank_order(torch::tensor(scores, torch::kDouble));
    for (int64_t i : order) {
      Candidate c;
      c.index = int(i);
      c.seed = params.seed + uint64_t(i);
      c.score = scores[size_t(i)];
      for (const auto& reading : attributes.readings)
        c.attributes.emplace_back(reading.attribute, reading.probability[i].item<double>());
      c.image = std::move(pictures[size_t(i)]);
      const at::Tensor row = codes[i].contiguous();
      c.codes.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
      result.candidates.push_back(std::move(c));
    }
    return result;
  }

  std::vector<int64_t> encode_image(const Image& image) override {
    torch::NoGradGuard no_grad;
    const int side = int(vqgan_->config().resolution);
    const Image rgb = resize_image(pad_to_square(image), side, side);  // a photo keeps its shape, on white
    COUTURE_CHECK_INPUT(rgb.channels == 3 || rgb.channels == 1, "init image: ", rgb.channels, " channels");
    const at::Tensor x = tensor_from_image(rgb).unsqueeze(0);
    const at::Tensor codes = vqgan_->encode_codes(x).reshape({-1}).to(torch::kLong).contiguous();
    return {codes.data_ptr<int64_t>(), codes.data_ptr<int64_t>() + codes.numel()};
  }

  Image decode_image(const std::vector<int64_t>& codes) override {
    torch::NoGradGuard no_grad;
    const int64_t n = dalle_->config().image_seq_len();
    COUTURE_CHECK_INPUT(int64_t(codes.size()) == n, "decode: this model's designs have ", n, " codes, got ",
                        codes.size());
    for (int64_t c : codes)
      COUTURE_CHECK_INPUT(c >= 0 && c < dalle_->config().num_image_tokens, "decode: code ", c, " is outside 0..",
                          dalle_->config().num_image_tokens - 1);
    auto decoded = vqgan_->decode_codes(torch::tensor(codes, torch::kLong).unsqueeze(0));
    return image_from_tensor(decoded[0].to(at::kFloat).clamp(-1, 1));
  }

  nlohmann::json describe() const override {
    const DalleConfig& dc = dalle_->config();
    const int64_t side = vqgan_->config().resolution;
    return {{"name", manifest_.name},
            {"dir", manifest_.dir.string()},
            {"image_size", side},
            {"code_grid", dc.image_fmap_size},
            {"text_seq_len", dc.text_seq_len},
            {"vocab_size", tokenizer_->vocab_size()},
            {"reranker", scorer_.has_value()},
            {"attribute_values", manifest_.json.value("attribute_values", nlohmann::ordered_json::object())},
            {"bf16", bf16_},
            {"decoder", decoder_bf16_ ? "bf16" : "fp32"},
            {"int8", dalle_->packed_int8()},
            {"defaults", defaults_},
            {"load_check_seconds", manifest_.check_seconds},
            {"parameters",
             {{"vqgan", parameter_count(*vqgan_)},
              {"dalle", parameter_count(*dalle_)},
              {"reranker", scorer_ ? parameter_count(*scorer_->model()) : 0}}}};
  }

 private:
  static GenerateResult cancelled(GenerateResult result) {
    result.cancelled = true;
    return result;
  }

  // The three models and the vocabulary must fit together; checked before any request.
  void check_consistency() const {
    const std::string where = (manifest_.dir / "model.json").string() + ": ";
    const DalleConfig& dc = dalle_->config();
    const VQGanConfig& vc = vqgan_->config();
    const auto vocab = int64_t(tokenizer_->vocab_size());
    COUTURE_CHECK_INPUT(dc.num_text_tokens == vocab, where, "the DALL-E reads ", dc.num_text_tokens,
                        " text tokens but the vocabulary has ", vocab);
    COUTURE_CHECK_INPUT(dc.num_image_tokens == vc.n_embed, where, "the DALL-E writes ", dc.num_image_tokens,
                        " image codes but the VQGAN's codebook has ", vc.n_embed);
    COUTURE_CHECK_INPUT(dc.image_fmap_size == vc.grid_size(), where, "the DALL-E's code grid is ", dc.image_fmap_size,
                        " but the VQGAN's is ", vc.grid_size());
    if (scorer_) {
      const auto& cc = scorer_->config();
      COUTURE_CHECK_INPUT(cc.text.vocab_size == vocab, where, "the reranker reads ", cc.text.vocab_size,
                          " text tokens but the vocabulary has ", vocab);
    }
  }

  BundleManifest manifest_;
  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  VQModel vqgan_;
  Dalle dalle_;
  std::optional<ClipScorer> scorer_;
  bool bf16_;
  bool decoder_bf16_ = false;  // the VQGAN decoder in bf16 NCHW (else fp32 channels-last)
  nlohmann::json defaults_;
};

}  // namespace

std::vector<int64_t> Generator::encode_image(const Image&) {
  throw InputError("this generator cannot encode images");
}

Image Generator::decode_image(const std::vector<int64_t>&) {
  throw InputError("this generator cannot decode codes");
}

std::unique_ptr<Generator> load_generator(const LoadParams& params) {
  // Refused before the bundle's files are read.
  COUTURE_CHECK_INPUT(params.decoder == "auto" || params.decoder == "bf16" || params.decoder == "fp32",
                      "decoder precision must be auto, bf16 or fp32, got '", params.decoder, "'");
  COUTURE_CHECK_INPUT(!params.int8 || params.packed, "int8 weights need the packed decoding step");
  return std::make_unique<BundleGenerator>(params);
}

}  // namespace couture
