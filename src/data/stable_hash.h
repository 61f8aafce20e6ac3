// A hash that is the same on every machine and every run (std::hash is neither): FNV-1a 64 with a splitmix64
// finaliser. Used for the train/test split, the class cap and the journal's file signatures.
#pragma once
#include <cstdint>
#include <string_view>

namespace couture {

inline uint64_t stable_hash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// Uniform in [0, 1).
inline double unit_hash(std::string_view bytes) { return double(stable_hash(bytes) >> 11) * 0x1.0p-53; }

}  // namespace couture
