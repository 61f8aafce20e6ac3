// Draws from std::mt19937_64 that are the same with every standard library (its output is specified; the std
// distributions and std::shuffle are not), for shuffles and synthetic data that must match across machines.
#pragma once
#include <cstdint>
#include <random>

namespace couture {

// Uniform in [0, n), n > 0, without modulo bias.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform_unit(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

}  // namespace couture
