#include "text/token_table.h"

#include "core/error.h"

namespace couture {

void TokenTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    const uint64_t h = hash(std::string_view(pool_.data() + s.offset, s.length));
    size_t i = h & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void TokenTable::insert(std::string_view key, int32_t id) {
  COUTURE_CHECK(id >= 0, "token table: negative id");
  COUTURE_CHECK(pool_.size() + key.size() < (size_t(1) << 32), "token table: vocabulary too large");
  if ((count_ + 1) * 2 > slots_.size()) grow();  // load factor at most 1/2 keeps probes short
  const uint64_t h = hash(key);
  size_t i = h & mask_;
  for (; slots_[i].id >= 0; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.hash == uint32_t(h >> 32) && std::string_view(pool_.data() + s.offset, s.length) == key) {
      s.id = id;
      return;
    }
  }
  slots_[i] = Slot{uint32_t(h >> 32), uint32_t(pool_.size()), uint32_t(key.size()), id};
  pool_.append(key);
  ++count_;
  if (key.size() > max_key_bytes_) max_key_bytes_ = key.size();
}

}  // namespace couture
