#include "io/image.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include "core/atomic_file.h"
#include "core/error.h"

// The stb implementations are compiled apart, in io/stb_impl.cpp.
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

namespace couture {

Image make_image(int width, int height, int channels, uint8_t fill) {
  COUTURE_CHECK(width > 0 && height > 0 && (channels == 1 || channels == 3), "bad image size ", width, "x", height,
                "x", channels);
  Image img{width, height, channels, {}};
  img.pixels.assign(size_t(width) * height * channels, fill);
  return img;
}

namespace {

// stb_image 2.27 (Debian 12) trusts a JPEG's Huffman tables in two ways that hostile files break, both found by
// fuzz/io_image_fuzz.cpp, so such files are refused before stb sees them:
// - it builds a table from a DHT segment without checking that its 16 code counts add up to at most 256, writing
//   past its fixed arrays (upstream checks since 2.28);
// - a scan may name a Huffman table no DHT defined, or its frame a quantisation table no DQT defined, and stb then
//   decodes with never-initialised table memory (an index of -1 into a 256-entry array, a signed overflow of a DC
//   coefficient times a garbage quantiser; different from run to run as the heap's old contents differ).
// The walk mirrors stb's, which takes fill bytes and garbage before markers: marker segments by their length,
// anything else byte by byte up to the next marker, bytes past the end read as 0. PNG files never reach stb's
// JPEG reader.
void check_jpeg_tables(const uint8_t* data, size_t size, const std::string& source) {
  if (size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) return;
  auto at = [&](size_t i) -> size_t { return i < size ? data[i] : 0; };
  bool defined[2][4] = {};  // Huffman tables: [DC 0 / AC 1][table id]
  bool quantiser[4] = {};    // quantisation tables by id
  int component_quantiser[256];  // the frame's components: id -> quantisation table (-1: not in the frame)
  std::fill(std::begin(component_quantiser), std::end(component_quantiser), -1);
  bool progressive = false;
  size_t i = 0;
  while (i + 1 < size) {
    const size_t marker = at(i + 1);
    if (at(i) != 0xFF || marker == 0xFF) {  // entropy-coded data, or fill bytes before a marker
      ++i;
      continue;
    }
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // stuffed byte, TEM, RSTn, SOI
      i += 2;
      continue;
    }
    if (marker == 0xD9) return;  // end of image
    const size_t length = (at(i + 2) << 8) | at(i + 3);
    if (marker == 0xC4) {
      size_t table = i + 4;
      for (int64_t left = int64_t(length) - 2; left > 0 && table < size;) {
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += at(table + k);
        if (codes > 256)
          throw InputError("'" + source + "': corrupt JPEG (a Huffman table declares " + std::to_string(codes) +
                           " codes; at most 256 exist)");
        const size_t kind = at(table) >> 4, id = at(table) & 15;
        if (kind < 2 && id < 4) defined[kind][id] = true;  // stb refuses other selectors itself
        table += 17 + codes;
        left -= int64_t(17 + codes);
      }
    }
    if (marker == 0xDB)  // DQT: tables of 1 + 64 bytes (8-bit) or 1 + 128 (16-bit)
      for (size_t t = i + 4, end = i + 2 + length; t < end && t < size; t += (at(t) >> 4) == 0 ? 65 : 129)
        if ((at(t) & 15) < 4) quantiser[at(t) & 15] = true;  // stb refuses other ids itself
    if (marker == 0xC0 || marker == 0xC1 || marker == 0xC2) {  // SOF: components with their quantisation table
      std::fill(std::begin(component_quantiser), std::end(component_quantiser), -1);
      for (size_t k = 0, n = at(i + 9); k < n; ++k) component_quantiser[at(i + 10 + 3 * k)] = int(at(i + 12 + 3 * k));
    }
    if (marker == 0xC2) progressive = true;
    if (marker == 0xDA) {  // start of scan: components, each with its DC and AC table, then Ss, Se, Ah/Al
      const size_t n = at(i + 4), spectral_start = at(i + 5 + 2 * n), approx_high = at(i + 7 + 2 * n) >> 4;
      // Baseline scans decode both tables; a progressive scan its DC tables (first DC pass) or its AC tables.
      const bool dc = !progressive || (spectral_start == 0 && approx_high == 0);
      const bool ac = !progressive || spectral_start > 0;
      for (size_t k = 0; k < n; ++k) {
        const size_t tables = at(i + 6 + 2 * k), dc_id = tables >> 4, ac_id = tables & 15;
        if ((dc && dc_id < 4 && !defined[0][dc_id]) || (ac && ac_id < 4 && !defined[1][ac_id]))
          throw InputError("'" + source + "': corrupt JPEG (a scan uses a Huffman table no DHT segment defines)");
        const int q = component_quantiser[at(i + 5 + 2 * k)];
        if (q >= 0 && q < 4 && !quantiser[q])
          throw InputError("'" + source + "': corrupt JPEG (a scan's component uses a quantisation table no DQT " +
                           "segment defines)");
      }
    }
    i += 2 + length;
  }
}

// stb_image grows its IDAT buffer to each chunk's declared length before reading it, so a PNG whose chunk claims
// more bytes than the file holds made it allocate up to 2 GB (found by io_image_fuzz). Refused here first.
void check_png_chunk_lengths(const uint8_t* data, size_t size, const std::string& source) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return;
  for (size_t i = 8; i + 8 <= size;) {
    const size_t length = (size_t(data[i]) << 24) | (size_t(data[i + 1]) << 16) | (size_t(data[i + 2]) << 8) | data[i + 3];
    if (length > size - i - 8)
      throw InputError("'" + source + "': corrupt PNG (a chunk declares " + std::to_string(length) +
                       " bytes, more than the file holds)");
    if (std::memcmp(data + i + 4, "IEND", 4) == 0) return;
    i += 12 + length;  // length, type, data, CRC
  }
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& source, int channels, int max_side) {
  COUTURE_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3");
  COUTURE_CHECK_INPUT(size > 0 && size < size_t(INT32_MAX), "'", source, "': empty or oversized image file");
  check_jpeg_tables(data, size, source);
  check_png_chunk_lengths(data, size, source);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(data, int(size), &w, &h, &c))
    throw InputError("'" + source + "': not a readable PNG or JPEG image (" + stbi_failure_reason() + ")");
  max_side = std::min(max_side, kMaxImageSide);
  COUTURE_CHECK_INPUT(w > 0 && h > 0 && w <= max_side && h <= max_side && int64_t(w) * h <= kMaxImagePixels,
                      "'", source, "': image of ", w, "x", h, " pixels exceeds the limit (", max_side,
                      " a side, 100 megapixels)");
  uint8_t* pixels = stbi_load_from_memory(data, int(size), &w, &h, &c, channels);
  if (!pixels) throw InputError("'" + source + "': corrupt or truncated image (" + stbi_failure_reason() + ")");
  Image img{w, h, channels, std::vector<uint8_t>(pixels, pixels + size_t(w) * h * channels)};
  stbi_image_free(pixels);
  return img;
}

Image pad_to_square(const Image& image, uint8_t fill) {
  if (image.width == image.height) return image;
  const int side = std::max(image.width, image.height);
  Image out = make_image(side, side, image.channels, fill);
  const int x0 = (side - image.width) / 2, y0 = (side - image.height) / 2;
  const size_t row = size_t(image.width) * size_t(image.channels);
  for (int y = 0; y < image.height; ++y) std::copy_n(image.at(0, y), row, out.at(x0, y0 + y));
  return out;
}

Image read_image(const std::filesystem::path& path, int channels) {
  std::string bytes = read_file(path);
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path.string(), channels);
}

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

uint32_t get_u32(const unsigned char* p) { return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

std::string chunk(const std::string& type, const std::string& body) {
  std::string out;
  put_u32(out, uint32_t(body.size()));
  std::string typed = type + body;
  out += typed;
  put_u32(out, uint32_t(crc32(0, reinterpret_cast<const Bytef*>(typed.data()), uInt(typed.size()))));
  return out;
}

}  // namespace

std::string encode_png(const Image& image, const std::string& parameters) {
  COUTURE_CHECK(image.width > 0 && image.height > 0 &&
                    image.pixels.size() == size_t(image.width) * image.height * image.channels,
                "encode_png: image buffer does not match its size");
  std::string png;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
      &png, image.width, image.height, image.channels, image.pixels.data(), image.width * image.channels);
  COUTURE_CHECK(png.size() > 33, "encode_png: encoder failed");
  if (parameters.empty()) return png;
  // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL, text.
  std::string body = std::string("parameters") + '\0' + '\0' + '\0' + '\0' + '\0' + parameters;
  const size_t after_ihdr = 8 + 12 + 13;  // signature, IHDR chunk
  return png.substr(0, after_ihdr) + chunk("iTXt", body) + png.substr(after_ihdr);
}

void write_png(const std::filesystem::path& path, const Image& image, const std::string& parameters) {
  write_file_atomic(path, encode_png(image, parameters));
}

std::optional<std::string> png_text(const std::string& png, const std::string& key) {
  const auto* p = reinterpret_cast<const unsigned char*>(png.data());
  static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (png.size() < 8 || std::memcmp(p, sig, 8) != 0) return std::nullopt;
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    uint32_t len = get_u32(p + pos);
    if (len > png.size() - pos - 12) return std::nullopt;
    std::string type = png.substr(pos + 4, 4);
    std::string body = png.substr(pos + 8, len);
    if (type == "tEXt" || type == "iTXt") {
      size_t nul = body.find('\0');
      if (nul != std::string::npos && body.substr(0, nul) == key) {
        if (type == "tEXt") return body.substr(nul + 1);
        // compression flag and method, then language and translated keyword, each NUL-terminated
        if (nul + 3 > body.size() || body[nul + 1] != 0) return std::nullopt;
        size_t lang_end = body.find('\0', nul + 3);
        if (lang_end == std::string::npos) return std::nullopt;
        size_t tr_end = body.find('\0', lang_end + 1);
        if (tr_end == std::string::npos) return std::nullopt;
        return body.substr(tr_end + 1);
      }
    }
    if (type == "IEND") break;
    pos += 12 + size_t(len);
  }
  return std::nullopt;
}

std::optional<std::string> read_png_text(const std::filesystem::path& path, const std::string& key) {
  return png_text(read_file(path), key);
}

Image resize_image(const Image& image, int width, int height) {
  Image out = make_image(width, height, image.channels);
  int ok = stbir_resize_uint8_srgb(image.pixels.data(), image.width, image.height, 0, out.pixels.data(), width, height,
                                   0, image.channels, STBIR_ALPHA_CHANNEL_NONE, 0);
  COUTURE_CHECK(ok, "resize_image: resampling ", image.width, "x", image.height, " to ", width, "x", height, " failed");
  return out;
}

Image tile_images(const std::vector<Image>& images, int cols, int gap, uint8_t background) {
  COUTURE_CHECK(!images.empty() && cols > 0, "tile_images: nothing to tile");
  const Image& first = images.front();
  int rows = int((images.size() + cols - 1) / cols);
  int n_cols = std::min<int>(cols, int(images.size()));
  Image grid = make_image(n_cols * first.width + (n_cols + 1) * gap, rows * first.height + (rows + 1) * gap,
                          first.channels, background);
  for (size_t i = 0; i < images.size(); ++i) {
    const Image& img = images[i];
    COUTURE_CHECK(img.width == first.width && img.height == first.height && img.channels == first.channels,
                  "tile_images: image ", i, " differs in size");
    int x0 = gap + int(i % cols) * (first.width + gap), y0 = gap + int(i / cols) * (first.height + gap);
    for (int y = 0; y < img.height; ++y)
      std::memcpy(grid.at(x0, y0 + y), img.at(0, y), size_t(img.width) * img.channels);
  }
  return grid;
}

}  // namespace couture
