#include "models/vqgan_quantize.h"

#include <cmath>

#include "core/error.h"

namespace couture {

namespace {

// Nearest rows of `codebook` [K, D] for `vectors` [N, D] by taming's expansion ||v||^2 + ||e||^2 - 2 v.e, in F32,
// in row chunks so the [chunk, K] distance matrix stays small (K = 16384 would need 64 KiB per vector).
std::pair<at::Tensor, at::Tensor> nearest_rows(const at::Tensor& vectors, const at::Tensor& codebook) {
  auto v = vectors.to(torch::kFloat);
  auto e = codebook.to(torch::kFloat);
  auto e_sq = e.pow(2).sum(1);
  auto e_t = e.t();
  const int64_t N = v.size(0), chunk = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(1, e.size(0)));
  std::vector<at::Tensor> indices, distances;
  for (int64_t start = 0; start < N; start += chunk) {
    auto part = v.slice(0, start, std::min(N, start + chunk));
    auto d = part.pow(2).sum(1, /*keepdim=*/true) + e_sq - 2 * part.matmul(e_t);
    auto [min_d, idx] = d.min(1);
    indices.push_back(idx);
    distances.push_back(min_d);
  }
  if (indices.empty()) return {torch::empty({0}, v.options().dtype(torch::kLong)), torch::empty({0}, v.options())};
  return {torch::cat(indices), torch::cat(distances)};
}

}  // namespace

void CodebookStats::add(const at::Tensor& indices) {
  auto flat = indices.reshape({-1}).to(torch::kCPU, torch::kLong);
  if (flat.numel() == 0) return;
  const int64_t K = n_embed();
  COUTURE_CHECK(flat.min().item<int64_t>() >= 0 && flat.max().item<int64_t>() < K,
                "codebook statistics: a code is outside [0, ", K, ")");
  auto counts = torch::bincount(flat, {}, K).contiguous();
  const int64_t* c = counts.data_ptr<int64_t>();
  for (int64_t k = 0; k < K; ++k) counts_[size_t(k)] += c[k];
  total_ += flat.numel();
}

CodebookStats CodebookStats::from_counts(const at::Tensor& counts) {
  auto c = counts.to(torch::kCPU, torch::kLong).contiguous();
  CodebookStats stats(c.numel());
  const int64_t* p = c.data_ptr<int64_t>();
  for (int64_t k = 0; k < c.numel(); ++k) {
    stats.counts_[size_t(k)] = p[k];
    stats.total_ += p[k];
  }
  return stats;
}

void CodebookStats::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
}

int64_t CodebookStats::used_codes() const {
  int64_t used = 0;
  for (int64_t c : counts_) used += c > 0;
  return used;
}

double CodebookStats::perplexity() const {
  if (total_ == 0) return 0.0;
  double entropy = 0.0;
  for (int64_t c : counts_) {
    const double p = double(c) / double(total_);
    entropy -= p * std::log(p + 1e-10);
  }
  return std::exp(entropy);
}

QuantizerTrainingStateImpl::QuantizerTrainingStateImpl(int64_t n_embed, int64_t embed_dim, int64_t memory_size) {
  auto long_options = torch::TensorOptions().dtype(torch::kLong);
  since_reinit = register_buffer("since_reinit", torch::zeros({n_embed}, long_options));
  memory = register_buffer("memory", torch::zeros({memory_size, embed_dim}, torch::kFloat));
  memory_rows = register_buffer("memory_rows", torch::zeros({}, long_options));
  memory_next = register_buffer("memory_next", torch::zeros({}, long_options));
}

VectorQuantizerImpl::VectorQuantizerImpl(int64_t n_embed, int64_t embed_dim, double beta, bool l2_normalize)
    : usage(n_embed), n_embed_(n_embed), embed_dim_(embed_dim), beta_(beta), l2_normalize_(l2_normalize),
      state_(n_embed, embed_dim, /*memory_size=*/4096) {
  embedding = register_module("embedding", torch::nn::Embedding(n_embed, embed_dim));
  torch::NoGradGuard no_grad;
  embedding->weight.uniform_(-1.0 / double(n_embed), 1.0 / double(n_embed));  // taming's initialisation
}

at::Tensor VectorQuantizerImpl::prepare(const at::Tensor& vectors) const {
  if (!l2_normalize_) return vectors;
  return vectors / vectors.to(torch::kFloat).norm(2, -1, /*keepdim=*/true).clamp_min(1e-6).to(vectors.scalar_type());
}

at::Tensor VectorQuantizerImpl::codebook() const { return prepare(embedding->weight); }

at::Tensor VectorQuantizerImpl::nearest_codes(const at::Tensor& vectors) {
  torch::NoGradGuard no_grad;
  return nearest_rows(prepare(vectors), codebook()).first;
}

Quantized VectorQuantizerImpl::forward(const at::Tensor& z) {
  COUTURE_CHECK(z.dim() == 4 && z.size(1) == embed_dim_, "vector quantizer: expected [B, ", embed_dim_,
                ", h, w], got ", z.sizes());
  const int64_t B = z.size(0), h = z.size(2), w = z.size(3);
  // In F32 whatever the encoder ran in (bf16 autocast): the loss and the codes' gradients need the precision.
  auto z_hwc = prepare(z.permute({0, 2, 3, 1}).to(torch::kFloat).contiguous());  // [B, h, w, D]
  auto flat = z_hwc.reshape({-1, embed_dim_});
  auto indices = nearest_codes(flat);
  auto zq = codebook().to(torch::kFloat).index_select(0, indices).view_as(z_hwc);

  Quantized out;
  out.loss = (zq.detach() - z_hwc).pow(2).mean() + beta_ * (zq - z_hwc.detach()).pow(2).mean();
  auto straight_through = z_hwc + (zq - z_hwc).detach();
  out.zq = straight_through.permute({0, 3, 1, 2}).to(z.scalar_type()).contiguous(z.suggest_memory_format());
  out.indices = indices.view({B, h * w});
  if (is_training()) {
    usage.add(indices);
    state_->since_reinit.add_(torch::bincount(indices.to(torch::kCPU), {}, n_embed_));
    remember(flat);
  }
  return out;
}

at::Tensor VectorQuantizerImpl::lookup(const at::Tensor& indices, int64_t h, int64_t w) {
  COUTURE_CHECK_INPUT(indices.dim() >= 1 && indices.numel() % (h * w) == 0 && indices.numel() > 0,
                      "vqgan codes: expected [B, ", h * w, "] codes, got shape ", indices.sizes());
  auto flat = indices.reshape({-1}).to(torch::kLong);
  const int64_t lo = flat.min().item<int64_t>(), hi = flat.max().item<int64_t>();
  COUTURE_CHECK_INPUT(lo >= 0 && hi < n_embed_, "vqgan codes: code ", (lo < 0 ? lo : hi), " is outside [0, ",
                      n_embed_, ")");
  const int64_t B = flat.numel() / (h * w);
  return codebook().index_select(0, flat).view({B, h, w, embed_dim_}).permute({0, 3, 1, 2}).contiguous();
}

void VectorQuantizerImpl::set_memory_size(int64_t vectors) {
  COUTURE_CHECK(vectors > 0, "vector quantizer: memory size must be positive, got ", vectors);
  state_ = QuantizerTrainingState(n_embed_, embed_dim_, vectors);
}

CodebookStats VectorQuantizerImpl::since_reinit() const { return CodebookStats::from_counts(state_->since_reinit); }

void VectorQuantizerImpl::reset_since_reinit() { state_->since_reinit.zero_(); }

// The newest vectors overwrite the oldest rows of the ring; what a later draw sees depends only on the state's
// tensors, so a checkpoint restores it exactly.
void VectorQuantizerImpl::remember(const at::Tensor& vectors) {
  torch::NoGradGuard no_grad;
  auto& st = *state_;
  const int64_t M = st.memory.size(0);
  auto v = vectors.detach().to(torch::kCPU, torch::kFloat);
  if (v.size(0) > M) v = v.slice(0, v.size(0) - M);
  const int64_t n = v.size(0), next = st.memory_next.item<int64_t>();
  auto rows = (torch::arange(n, torch::kLong) + next).remainder_(M);
  st.memory.index_copy_(0, rows, v);
  st.memory_next.fill_((next + n) % M);
  st.memory_rows.fill_(std::min(M, st.memory_rows.item<int64_t>() + n));
}

int64_t VectorQuantizerImpl::reinit_dead_codes(at::Generator generator, int64_t min_count) {
  auto& st = *state_;
  const int64_t filled = st.memory_rows.item<int64_t>();
  if (filled == 0) return 0;
  std::vector<int64_t> dead;
  auto counts = st.since_reinit.contiguous();
  const int64_t* c = counts.data_ptr<int64_t>();
  for (int64_t k = 0; k < n_embed_; ++k)
    if (c[k] < min_count) dead.push_back(k);
  st.since_reinit.zero_();
  if (dead.empty()) return 0;
  torch::NoGradGuard no_grad;
  const int64_t n = int64_t(dead.size());
  auto memory = st.memory.slice(0, 0, filled);
  auto rows = torch::randint(filled, {n}, generator, torch::TensorOptions().dtype(torch::kLong));
  auto spread = filled > 1 ? memory.std(0) : torch::zeros({embed_dim_});
  auto noise = torch::randn({n, embed_dim_}, generator, torch::TensorOptions().dtype(torch::kFloat)) * spread * 0.01;
  auto fresh = memory.index_select(0, rows) + noise;
  auto where = torch::tensor(dead, torch::TensorOptions().dtype(torch::kLong)).to(embedding->weight.device());
  embedding->weight.index_copy_(0, where, fresh.to(embedding->weight.options()));
  return n;
}

double VectorQuantizerImpl::kmeans_init(const at::Tensor& vectors, int iterations, at::Generator generator) {
  COUTURE_CHECK(vectors.dim() == 2 && vectors.size(1) == embed_dim_ && vectors.size(0) > 0,
                "k-means initialisation: expected [N, ", embed_dim_, "] vectors, got ", vectors.sizes());
  torch::NoGradGuard no_grad;
  auto v = prepare(vectors.detach().to(torch::kFloat)).contiguous();
  const int64_t N = v.size(0), K = n_embed_;
  auto long_options = torch::TensorOptions().dtype(torch::kLong);
  auto seeds = N >= K ? torch::randperm(N, generator, long_options).slice(0, 0, K)
                      : torch::randint(N, {K}, generator, long_options);
  auto centroids = v.index_select(0, seeds).clone();
  at::Tensor min_d;
  for (int it = 0; it <= iterations; ++it) {
    auto [assign, d] = nearest_rows(v, centroids);
    min_d = d;
    if (it == iterations) break;
    auto sums = torch::zeros_like(centroids).index_add_(0, assign, v);
    auto counts = torch::bincount(assign, {}, K).to(torch::kFloat);
    auto filled = counts > 0;
    centroids = torch::where(filled.unsqueeze(1), sums / counts.clamp_min(1).unsqueeze(1), centroids);
    // Empty clusters restart at random vectors so that every code ends up in use.
    const int64_t empty = K - filled.sum().item<int64_t>();
    if (empty > 0) {
      auto idle = (~filled).nonzero().squeeze(1);
      centroids.index_copy_(0, idle, v.index_select(0, torch::randint(N, {empty}, generator, long_options)));
    }
  }
  embedding->weight.copy_(centroids.to(embedding->weight.options()));
  return min_d.mean().item<double>();
}

}  // namespace couture
