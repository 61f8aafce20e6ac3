// libFuzzer target: the safetensors reader on any bytes (a checkpoint from a stranger). Either a clean
// couture::InputError, or a file whose every tensor lies inside the bytes with the size its shape and dtype need.
#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "io/safetensors.h"

using couture::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = couture::SafetensorsFile::parse(data, size, "fuzz");
    for (const auto& t : file.tensors()) {
      require(t.data >= data && t.nbytes <= size && size_t(t.data - data) <= size - t.nbytes);
      require(uint64_t(t.numel()) * couture::dtype_size(t.dtype) == t.nbytes);
      require(file.find(t.name) == &t && &file.at(t.name) == &t);
      couture::all_finite(t);
      // Touch every byte, so ASan sees a view that points past the input.
      volatile uint8_t sink = 0;
      for (size_t i = 0; i < t.nbytes; ++i) sink = sink ^ t.data[i];
    }
  } catch (const couture::InputError&) {
  }
  return 0;
}
