#include "models/dalle_sampling.h"

#include <ATen/CPUGeneratorImpl.h>

#include <limits>
#include <mutex>

#include "core/error.h"

namespace couture {

namespace {

void check_params(const DalleConfig& c, const SampleParams& p) {
  const int64_t N = c.image_seq_len();
  COUTURE_CHECK_INPUT(p.n >= 1, "sampling: n must be at least 1, got ", p.n);
  COUTURE_CHECK_INPUT(p.temperature >= 0, "sampling: temperature must not be negative, got ", p.temperature);
  COUTURE_CHECK_INPUT(p.top_k >= 0, "sampling: top_k must not be negative, got ", p.top_k);
  COUTURE_CHECK_INPUT(p.top_p > 0 && p.top_p <= 1, "sampling: top_p must be in (0, 1], got ", p.top_p);
  COUTURE_CHECK_INPUT(p.filter_thres < 1, "sampling: filter_thres must be below 1, got ", p.filter_thres);
  COUTURE_CHECK_INPUT(p.cond_scale == 1.0 || c.text_pad_id >= 0,
                      "sampling: cond_scale needs a model with text_pad_id (trained with null captions)");
  COUTURE_CHECK_INPUT(p.num_init_codes >= 0 && p.num_init_codes < N, "sampling: num_init_codes must be in [0, ",
                      N, "), got ", p.num_init_codes);
  if (p.num_init_codes > 0)
    COUTURE_CHECK_INPUT(p.init_codes.defined() && p.init_codes.numel() == N, "sampling: init_codes must hold ", N,
                        " codes");
}

// A uniform double in [0, 1) from 53 random bits of the candidate's own generator.
double uniform(at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  auto* impl = at::check_generator<at::CPUGeneratorImpl>(generator);
  return double(impl->random64() >> 11) * 0x1.0p-53;
}

// Inverse CDF on each row: one uniform per candidate, whatever the batch.
at::Tensor draw(const at::Tensor& probs, std::vector<at::Generator>& generators) {
  auto p = probs.to(at::kFloat).contiguous();
  const int64_t n = p.size(0), V = p.size(1);
  auto out = at::empty({n}, at::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = p.data_ptr<float>() + i * V;
    double total = 0;
    int64_t last = 0;
    for (int64_t j = 0; j < V; ++j)
      if (row[j] > 0) total += row[j], last = j;
    const double target = uniform(generators[size_t(i)]) * total;
    double acc = 0;
    int64_t chosen = last;  // rounding may leave the target just above the sum
    for (int64_t j = 0; j < V; ++j) {
      acc += row[j];
      if (row[j] > 0 && acc > target) {
        chosen = j;
        break;
      }
    }
    out[i] = chosen;
  }
  return out;
}

// Eval mode and no autograd for the run; the training flag comes back afterwards. A model already in eval mode is
// not written to, so several threads may sample from one model at once (each run has its own cache).
struct EvalScope {
  explicit EvalScope(DalleImpl& m) : model(m), was_training(m.is_training()) {
    if (was_training) model.eval();
  }
  ~EvalScope() {
    if (was_training) model.train();
  }
  DalleImpl& model;
  bool was_training;
  torch::NoGradGuard no_grad;
};

}  // namespace

at::Tensor filter_logits(const at::Tensor& image_logits, const SampleParams& p, int64_t total_logits) {
  auto x = image_logits.to(at::kFloat);
  const int64_t V = x.size(-1);
  int64_t k = V;
  if (p.filter_thres >= 0)
    k = std::min(k, std::max<int64_t>(int64_t((1.0 - p.filter_thres) * double(total_logits)), 1));
  if (p.top_k > 0) k = std::min(k, p.top_k);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  if (k < V) {
    auto [values, indices] = x.topk(k, -1);
    x = at::full_like(x, neg_inf).scatter_(-1, indices, values);
  }
  if (p.temperature > 0 && p.temperature != 1.0) x = x / p.temperature;
  if (p.top_p < 1.0) {
    auto [sorted, order] = x.sort(-1, /*descending=*/true);
    auto probs = sorted.softmax(-1);
    // Drop a code once the more likely ones already hold top_p (the first always stays).
    auto drop = (probs.cumsum(-1) - probs) > p.top_p;
    x = x.scatter(-1, order, sorted.masked_fill(drop, neg_inf));
  }
  return x;
}

SampleResult sample_codes(Dalle& model, const at::Tensor& text, const SampleParams& p,
                          const SampleProgress& progress) {
  const DalleConfig& c = model->config();
  check_params(c, p);
  const int64_t T = c.text_seq_len, N = c.image_seq_len(), K = p.num_init_codes;
  COUTURE_CHECK_INPUT(text.numel() == T, "sampling: the caption must hold text_seq_len = ", T, " ids, got ",
                      text.numel());
  EvalScope eval(*model);

  // Prefix rows: the caption, and with guidance the null (or negative) caption. Each is computed once; decoding rows
  // are the n candidates conditioned on row 0, then (guidance) the same n candidates on row 1.
  const bool guided = p.cond_scale != 1.0;
  auto captions = text.reshape({1, T}).to(at::kLong);
  if (guided) {
    COUTURE_CHECK_INPUT(!p.negative_text.defined() || p.negative_text.numel() == T,
                        "sampling: the negative caption must hold text_seq_len = ", T, " ids, got ",
                        p.negative_text.numel());
    captions = at::cat({captions, p.negative_text.defined() ? p.negative_text.reshape({1, T}).to(at::kLong)
                                                            : model->null_caption(1)});
  }
  const int64_t P = captions.size(0);
  std::vector<int64_t> rows(size_t(p.n), 0);
  if (guided) rows.insert(rows.end(), size_t(p.n), 1);
  auto row_index = at::tensor(rows, at::kLong);
  auto candidate_index = at::arange(p.n, at::kLong).repeat({P});  // the candidate each decoding row belongs to

  auto codes = at::zeros({p.n, N}, at::kLong);
  auto prefix = model->embed_text(captions);
  if (K > 0) {
    auto init = p.init_codes.reshape({1, N}).to(at::kLong).narrow(1, 0, K);
    codes.narrow(1, 0, K).copy_(init.expand({p.n, K}));
    prefix = at::cat({prefix, model->embed_image(init.expand({P, K}), 0)}, 1);
  }
  auto prefix_keep = model->key_keep(captions);
  auto keep = prefix_keep.defined() ? prefix_keep.index_select(0, row_index) : at::Tensor();

  std::vector<at::Generator> generators;
  for (int64_t i = 0; i < p.n; ++i) generators.push_back(at::make_generator<at::CPUGeneratorImpl>(p.seed + uint64_t(i)));

  DalleCache cache;
  at::Tensor logits;  // image logits of the next code, one row per decoding row
  if (p.use_cache) {
    auto prefix_cache = model->new_cache(P, T + N);
    auto h = model->transform(prefix, prefix_keep, &prefix_cache);
    logits = model->image_logits(h.select(1, -1)).index_select(0, row_index);
    cache = prefix_cache.gather_rows(rows, T + N);
  }
  for (int64_t s = K; s < N; ++s) {
    if (!p.use_cache) {
      auto x = prefix.index_select(0, row_index);
      if (s > 0) x = at::cat({x, model->embed_image(codes.narrow(1, 0, s).index_select(0, candidate_index), 0)}, 1);
      logits = model->image_logits(model->transform(x, keep).select(1, -1));
    }
    auto scores = logits;
    if (guided) {
      auto cond = logits.narrow(0, 0, p.n), null = logits.narrow(0, p.n, p.n);
      scores = null + (cond - null) * p.cond_scale;
    }
    auto next = p.temperature == 0 ? scores.argmax(-1)
                                   : draw(filter_logits(scores, p, c.total_logits()).softmax(-1), generators);
    codes.select(1, s).copy_(next);
    if (progress && !progress(s - K + 1, N - K)) return {codes, true};
    if (p.use_cache && s + 1 < N) {
      auto tokens = (guided ? at::cat({next, next}) : next).view({-1, 1});
      auto h = model->transform(model->embed_image(tokens, s), keep, &cache);
      logits = model->image_logits(h.select(1, 0));
    }
  }
  return {codes, false};
}

at::Tensor stepwise_image_logits(Dalle& model, const at::Tensor& text, const at::Tensor& codes, bool use_cache) {
  const DalleConfig& c = model->config();
  const int64_t B = text.size(0), T = c.text_seq_len, N = c.image_seq_len();
  COUTURE_CHECK(codes.dim() == 2 && codes.size(0) == B && codes.size(1) == N, "stepwise logits: codes must be [",
                B, ", ", N, "], got ", codes.sizes());
  EvalScope eval(*model);
  auto keep = model->key_keep(text);
  auto prefix = model->embed_text(text);
  std::vector<at::Tensor> steps;
  if (use_cache) {
    auto cache = model->new_cache(B, T + N);
    auto h = model->transform(prefix, keep, &cache).select(1, -1);
    for (int64_t s = 0; s < N; ++s) {
      steps.push_back(model->image_logits(h));
      if (s + 1 < N) h = model->transform(model->embed_image(codes.narrow(1, s, 1), s), keep, &cache).select(1, 0);
    }
  } else {
    for (int64_t s = 0; s < N; ++s) {
      auto x = s == 0 ? prefix : at::cat({prefix, model->embed_image(codes.narrow(1, 0, s), 0)}, 1);
      steps.push_back(model->image_logits(model->transform(x, keep).select(1, -1)));
    }
  }
  return at::stack(steps, 1);
}

}  // namespace couture
