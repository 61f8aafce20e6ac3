// String -> id lookup for the WordPiece hot loop: open addressing over one contiguous string pool, so a lookup is a
// hash of a string_view and usually one comparison, with no allocation. Copyable (keys are offsets, not pointers).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace couture {

class TokenTable {
 public:
  // Later duplicates win, as in Hugging Face's vocab maps.
  void insert(std::string_view key, int32_t id);
  int32_t find(std::string_view key) const {  // -1 when absent
    if (slots_.empty() || key.size() > max_key_bytes_) return -1;
    const uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == uint32_t(h >> 32) && s.length == key.size() && equal(pool_.data() + s.offset, key)) {
        return s.id;
      }
    }
  }
  size_t max_key_bytes() const { return max_key_bytes_; }
  size_t size() const { return count_; }

  // Inline: keys are a few bytes, where a call to memcmp costs more than the comparison.
  static bool equal(const char* a, std::string_view b) {
    size_t i = 0;
    for (; i + 8 <= b.size(); i += 8) {
      uint64_t x, y;
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) return false;
    }
    for (; i < b.size(); ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }

  static uint64_t hash(std::string_view key) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ key.size();
    const char* p = key.data();
    size_t n = key.size();
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    h = (h ^ tail) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
  }

 private:
  struct Slot {
    uint32_t hash = 0, offset = 0, length = 0;
    int32_t id = -1;
  };
  void grow();

  std::vector<Slot> slots_;
  std::string pool_;
  size_t mask_ = 0, count_ = 0, max_key_bytes_ = 0;
};

}  // namespace couture
