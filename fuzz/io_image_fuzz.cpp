// libFuzzer target: image decoding (PNG and JPEG through stb, with the size limits checked before any pixel is
// allocated) and the PNG text-chunk reader, on any bytes (an uploaded or dataset image). Either a clean
// couture::InputError, or an image within the limits whose pixel buffer matches its size.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "io/image.h"

using couture::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int channels = size % 2 == 0 ? 3 : 1;
  try {
    const couture::Image image = couture::decode_image(data, size, "fuzz", channels);
    require(image.width > 0 && image.height > 0 && image.width <= couture::kMaxImageSide &&
            image.height <= couture::kMaxImageSide && int64_t(image.width) * image.height <= couture::kMaxImagePixels);
    require(image.channels == channels && image.pixels.size() == size_t(image.width) * image.height * channels);
  } catch (const couture::InputError&) {
  }
  couture::png_text(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
