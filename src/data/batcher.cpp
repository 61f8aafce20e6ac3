#include "data/batcher.h"

#include <cstring>
#include <random>

#include "core/error.h"
#include "data/portable_random.h"
#include "nn/tensor_io.h"

namespace couture {
namespace {

std::mt19937_64 generator(uint64_t seed, int64_t epoch, uint64_t stream) {
  std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(epoch), uint32_t(uint64_t(epoch) >> 32),
                    uint32_t(stream)};
  return std::mt19937_64(seq);
}

}  // namespace

Batcher::Batcher(Dataset dataset, BatcherOptions options) : dataset_(std::move(dataset)), options_(options) {
  COUTURE_CHECK_INPUT(options_.batch_size > 0, "batch size must be positive, got ", options_.batch_size);
  COUTURE_CHECK_INPUT(dataset_.size() > 0, "dataset '", dataset_.dir().string(), "' split ", dataset_.split(),
                      " is empty");
  COUTURE_CHECK_INPUT(!options_.drop_last || dataset_.size() >= options_.batch_size, "dataset '",
                      dataset_.dir().string(), "' split ", dataset_.split(), " has ", dataset_.size(),
                      " records, fewer than one batch of ", options_.batch_size);
  seek(0, 0);
}

std::vector<int64_t> Batcher::permutation(int64_t epoch) const {
  std::vector<int64_t> order(size_t(dataset_.size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  if (!options_.shuffle) return order;
  auto rng = generator(options_.seed, epoch, 0);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
  return order;
}

int64_t Batcher::batches_per_epoch() const {
  int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void Batcher::seek(int64_t epoch, int64_t step) {
  COUTURE_CHECK(epoch >= 0 && step >= 0, "Batcher::seek: negative position");
  epoch += step / batches_per_epoch();
  step %= batches_per_epoch();
  if (order_.empty() || epoch != epoch_) order_ = permutation(epoch);
  epoch_ = epoch;
  step_ = step;
}

Batch Batcher::next() {
  if (step_ >= batches_per_epoch()) seek(epoch_ + 1, 0);
  int64_t begin = step_ * options_.batch_size;
  int64_t end = std::min<int64_t>(begin + options_.batch_size, dataset_.size());
  std::vector<int64_t> indices(order_.begin() + begin, order_.begin() + end);

  Batch batch;
  batch.epoch = epoch_;
  batch.step = step_;
  // Caption choices come from their own generator per batch, so seeking reproduces them exactly.
  auto rng = generator(options_.seed, epoch_, 1 + uint64_t(step_));
  for (int64_t i : indices) {
    DatasetRecord r = dataset_.record(i);
    bool use_short = r.captions.size() > 1 && uniform_unit(rng) < options_.short_caption_probability;
    batch.captions.push_back(use_short ? r.captions[1] : r.captions[0]);
  }
  batch.images = images_to_tensor(dataset_, indices);
  batch.indices = torch::tensor(indices, torch::kInt64);
  ++step_;
  return batch;
}

at::Tensor images_to_tensor(const Dataset& dataset, const std::vector<int64_t>& indices) {
  const int64_t B = int64_t(indices.size()), H = dataset.height(), W = dataset.width(), C = dataset.channels();
  auto bytes = torch::empty({B, H, W, C}, torch::kUInt8);
  uint8_t* out = bytes.data_ptr<uint8_t>();
  const size_t record = size_t(H * W * C);
  for (int64_t b = 0; b < B; ++b) std::memcpy(out + size_t(b) * record, dataset.image(indices[size_t(b)]).data, record);
  return tensor_from_bytes(bytes);
}

}  // namespace couture
