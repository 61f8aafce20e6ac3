#include "generate/rerank.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/files.h"
#include "io/image.h"
#include "nn/tensor_io.h"
#include "text/wordpiece.h"

namespace couture {
namespace {

namespace F = torch::nn::functional;

// Runs f over [start, end) chunks of at most `size` and concatenates the results along dim 0.
template <typename Fn>
at::Tensor chunked(int64_t n, int64_t size, Fn&& f) {
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < n; start += size) parts.push_back(f(start, std::min(n, start + size)));
  return parts.empty() ? at::Tensor() : at::cat(parts);
}

}  // namespace

ClipScorer ClipScorer::load(const std::filesystem::path& clip, const std::filesystem::path& vocab,
                            const ClipScorerOptions& options) {
  const auto model_file = run_file(clip, "clip.safetensors");
  auto vocab_file = !vocab.empty() ? vocab : model_file.parent_path() / "vocab.txt";
  COUTURE_CHECK_INPUT(std::filesystem::exists(vocab_file), "CLIP vocabulary '", vocab_file.string(),
                      "' does not exist (give --vocab)");
  auto tokenizer = std::make_shared<const WordPieceTokenizer>(WordPieceTokenizer::load(vocab_file));
  Clip model = load_clip(model_file);
  COUTURE_CHECK_INPUT(model->config().text.vocab_size == int64_t(tokenizer->vocab_size()) &&
                          model->config().text.pad_id == tokenizer->pad_id(),
                      "CLIP model '", model_file.string(), "' was trained with ", model->config().text.vocab_size,
                      " tokens (pad id ", model->config().text.pad_id, ") but vocabulary '", vocab_file.string(),
                      "' has ", tokenizer->vocab_size(), " (pad id ", tokenizer->pad_id(), ")");
  return ClipScorer(model, tokenizer, options);
}

ClipScorer::ClipScorer(Clip model, std::shared_ptr<const WordPieceTokenizer> tokenizer,
                       const ClipScorerOptions& options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(options) {
  COUTURE_CHECK(options_.max_batch > 0, "clip scorer: max_batch must be positive");
  model_->eval();
  if (options_.bf16) model_->to(at::kBFloat16);
}

at::Tensor ClipScorer::encode_texts(const std::vector<std::string>& captions) const {
  torch::NoGradGuard no_grad;
  return chunked(int64_t(captions.size()), options_.max_batch, [&](int64_t a, int64_t b) {
    std::vector<std::string> part(captions.begin() + a, captions.begin() + b);
    auto t = tokenize_captions(*tokenizer_, part, config().max_text_tokens);
    return impl().encode_text(t.ids, t.mask).to(at::kFloat);
  });
}

at::Tensor ClipScorer::images_batch(const at::Tensor& images) const {
  COUTURE_CHECK_INPUT(images.dim() == 4, "clip scorer: images must be 4-D, got ", images.sizes());
  at::Tensor x = images;
  if (x.scalar_type() == at::kByte) {
    COUTURE_CHECK_INPUT(x.size(3) == 1 || x.size(3) == 3, "clip scorer: uint8 images must be [B,H,W,C] with C 1 or 3, got ",
                        x.sizes());
    x = tensor_from_bytes(x);
  } else {
    COUTURE_CHECK_INPUT(x.size(1) == 3, "clip scorer: float images must be [B,3,H,W], got ", x.sizes());
    x = x.to(at::kFloat);
  }
  const int64_t s = config().image_size;
  if (x.size(2) != s || x.size(3) != s)
    x = F::interpolate(x.contiguous(), F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{s, s})
                                           .mode(torch::kBilinear)
                                           .align_corners(false)
                                           .antialias(x.size(2) > s || x.size(3) > s));
  return x;
}

at::Tensor ClipScorer::encode_prepared(const at::Tensor& x) const {
  torch::NoGradGuard no_grad;
  const auto dtype = options_.bf16 ? at::kBFloat16 : at::kFloat;
  return chunked(x.size(0), options_.max_batch, [&](int64_t a, int64_t b) {
    return impl().encode_image(x.slice(0, a, b).to(dtype)).to(at::kFloat);
  });
}

at::Tensor ClipScorer::encode_images(const at::Tensor& images) const {
  return encode_prepared(images_batch(images));
}

at::Tensor ClipScorer::encode_images(const std::vector<Image>& images) const {
  return encode_prepared(resize_to_batch(images, config().image_size));
}

at::Tensor ClipScorer::similarity(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) const {
  torch::NoGradGuard no_grad;
  return impl().similarity(text_embeddings.to(at::kFloat), image_embeddings.to(at::kFloat));
}

at::Tensor ClipScorer::logits(const at::Tensor& text_embeddings, const at::Tensor& image_embeddings) const {
  torch::NoGradGuard no_grad;
  return impl().logits(text_embeddings.to(at::kFloat), image_embeddings.to(at::kFloat)).to(at::kFloat);
}

at::Tensor ClipScorer::score(const std::string& caption, const at::Tensor& images) const {
  return similarity(encode_texts({caption}), encode_images(images))[0];
}

at::Tensor ClipScorer::score(const std::string& caption, const std::vector<Image>& images) const {
  return similarity(encode_texts({caption}), encode_images(images))[0];
}

std::vector<int64_t> rank_order(const at::Tensor& scores) {
  COUTURE_CHECK(scores.dim() == 1, "rank_order: scores must be 1-D, got ", scores.sizes());
  auto s = scores.to(at::kDouble).contiguous();
  const double* v = s.data_ptr<double>();
  std::vector<int64_t> order(size_t(s.size(0)));
  std::iota(order.begin(), order.end(), 0);
  // NaN sorts last: a broken score must not win.
  std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) {
    if (std::isnan(v[a])) return false;
    if (std::isnan(v[b])) return true;
    return v[a] > v[b];
  });
  return order;
}

}  // namespace couture
