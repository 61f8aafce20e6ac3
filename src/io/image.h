// Images: PNG/JPEG decoding (stb) with the size checked before any pixel is allocated, PNG encoding with a
// `parameters` iTXt chunk (UTF-8 JSON: prompt, seed, model, settings) that round-trips, and resizing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace couture {

constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = 100'000'000;

struct Image {
  int width = 0, height = 0, channels = 0;  // channels 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;              // HWC, row-major
  uint8_t* at(int x, int y) { return pixels.data() + (size_t(y) * width + x) * channels; }
  const uint8_t* at(int x, int y) const { return pixels.data() + (size_t(y) * width + x) * channels; }
};

Image make_image(int width, int height, int channels, uint8_t fill = 0);

// Decodes PNG or JPEG bytes into RGB (channels=3) or grey (1). `source` names the file in errors. An image wider
// or taller than `max_side` is refused from its header, before any pixel is allocated.
Image decode_image(const uint8_t* data, size_t size, const std::string& source, int channels = 3,
                   int max_side = kMaxImageSide);
Image read_image(const std::filesystem::path& path, int channels = 3);

// PNG bytes; `parameters` (if non-empty) goes into an iTXt chunk keyed "parameters".
std::string encode_png(const Image& image, const std::string& parameters = "");
void write_png(const std::filesystem::path& path, const Image& image, const std::string& parameters = "");
// The text of the chunk keyed `key` (tEXt or uncompressed iTXt), if present.
std::optional<std::string> read_png_text(const std::filesystem::path& path, const std::string& key = "parameters");
std::optional<std::string> png_text(const std::string& png_bytes, const std::string& key = "parameters");

// Resampling with a proper filter (Mitchell for downsizing, as stb's defaults).
Image resize_image(const Image& image, int width, int height);

// The image centred on a square of `fill` (aspect kept); a square image as it is.
Image pad_to_square(const Image& image, uint8_t fill = 255);

// Lays images of one size out in a grid (cols columns) with a gap of `gap` background pixels.
Image tile_images(const std::vector<Image>& images, int cols, int gap = 2, uint8_t background = 255);

}  // namespace couture
