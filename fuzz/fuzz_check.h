// Shared by the fuzz targets: a failed property check is a crash libFuzzer reports (with the input saved).
#pragma once

namespace couture::fuzz {

inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace couture::fuzz
