// Which records a step trains on. Every epoch has a permutation agreed by seed (our own Fisher-Yates over
// splitmix64, identical on every machine); each global batch of batch x world records is cut into `world`
// contiguous slices, one per rank. With world = 1 this is plain seeded shuffling; a resumed run gets the same order.
#pragma once
#include <cstdint>
#include <vector>

namespace couture {

class ShardedSampler {
 public:
  ShardedSampler(int64_t records, int64_t batch_per_rank, uint64_t seed, int rank = 0, int world = 1);

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Record indices of this rank's batch at 1-based `step`.
  std::vector<int64_t> batch(int64_t step);

 private:
  int64_t records_, batch_, steps_per_epoch_;
  uint64_t seed_;
  int rank_, world_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> permutation_;
};

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace couture
