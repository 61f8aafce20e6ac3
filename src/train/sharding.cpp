#include "train/sharding.h"

#include <numeric>

#include "core/error.h"

namespace couture {

namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = int64_t(splitmix64(state) % uint64_t(i + 1));
    std::swap(p[size_t(i)], p[size_t(j)]);
  }
  return p;
}

ShardedSampler::ShardedSampler(int64_t records, int64_t batch_per_rank, uint64_t seed, int rank, int world)
    : records_(records), batch_(batch_per_rank), seed_(seed), rank_(rank), world_(world) {
  COUTURE_CHECK(batch_per_rank > 0 && world > 0 && rank >= 0 && rank < world, "bad sampler settings");
  COUTURE_CHECK_INPUT(records >= batch_per_rank * world, "the dataset has ", records,
                      " records, fewer than one batch of ", batch_per_rank * world);
  steps_per_epoch_ = records / (batch_per_rank * world);  // the incomplete last batch is dropped
}

std::vector<int64_t> ShardedSampler::batch(int64_t step) {
  COUTURE_CHECK(step >= 1, "steps are 1-based");
  int64_t global = step - 1, epoch = global / steps_per_epoch_, within = global % steps_per_epoch_;
  if (epoch != cached_epoch_) {
    permutation_ = seeded_permutation(records_, seed_ * 1000003ULL + uint64_t(epoch));
    cached_epoch_ = epoch;
  }
  int64_t start = within * batch_ * world_ + rank_ * batch_;
  return {permutation_.begin() + start, permutation_.begin() + start + batch_};
}

}  // namespace couture
