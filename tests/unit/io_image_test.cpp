// Images: PNG round trip with the parameters chunk, JPEG decode, size limits before allocation, corrupt data.
#include "io/image.h"

#include <gtest/gtest.h>
#include <stb_image_write.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "support/temp_dir.h"

using namespace couture;
using couture::testing::TempDir;

namespace {

Image gradient(int w, int h) {
  Image img = make_image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(x, y);
      p[0] = uint8_t(x * 255 / (w - 1)), p[1] = uint8_t(y * 255 / (h - 1)), p[2] = 128;
    }
  return img;
}

std::string expect_rejected(const std::string& bytes) {
  try {
    decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "photo.png");
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted bad image bytes";
  return "";
}

TEST(Image, PngRoundTripKeepsPixelsAndParameters) {
  TempDir dir;
  Image img = gradient(17, 9);
  std::string params = R"({"prompt":"상의에서 색상은 레드이다.","seed":42,"candidate":3})";
  write_png(dir / "a.png", img, params);
  Image back = read_image(dir / "a.png");
  EXPECT_EQ(back.width, 17);
  EXPECT_EQ(back.height, 9);
  EXPECT_EQ(back.pixels, img.pixels);
  EXPECT_EQ(read_png_text(dir / "a.png"), params);
  EXPECT_EQ(read_png_text(dir / "a.png", "other"), std::nullopt);
  write_png(dir / "b.png", img);
  EXPECT_EQ(read_png_text(dir / "b.png"), std::nullopt);
}

TEST(Image, GreyDecodeAndResize) {
  Image img = gradient(40, 20);
  std::string png = encode_png(img);
  Image grey = decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "g.png", 1);
  EXPECT_EQ(grey.channels, 1);
  Image small = resize_image(img, 10, 5);
  EXPECT_EQ(small.width, 10);
  EXPECT_EQ(small.pixels.size(), 10u * 5 * 3);
  // a smooth gradient stays monotonic after a proper filter
  EXPECT_LT(small.at(1, 2)[0], small.at(8, 2)[0]);
}

TEST(Image, RejectsOversizeBeforeDecoding) {
  // A valid PNG header claiming 20000 x 20000 pixels, with no pixel data behind it.
  Image img = gradient(4, 4);
  std::string png = encode_png(img);
  auto put = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = char((v >> (8 * (3 - i))) & 0xFF);
  };
  put(16, 20000);
  put(20, 20000);
  std::string msg = expect_rejected(png);
  EXPECT_NE(msg.find("photo.png"), std::string::npos) << msg;
}

TEST(Image, CorruptAndTruncatedGiveClearErrors) {
  Image img = gradient(32, 32);
  std::string png = encode_png(img);
  EXPECT_NE(expect_rejected(png.substr(0, png.size() / 2)).find("photo.png"), std::string::npos);
  EXPECT_NE(expect_rejected("not an image at all").find("not a readable PNG or JPEG"), std::string::npos);
  std::string garbled = png;
  for (size_t i = 60; i < garbled.size() - 20; i += 7) garbled[i] = char(garbled[i] ^ 0x5A);
  expect_rejected(garbled);
  EXPECT_THROW(read_image("/nonexistent/x.png"), InputError);
}

// A baseline JPEG of `img` from stb's writer (built into couture_io with stb's implementation).
std::string encode_jpeg(const Image& img) {
  std::string out;
  stbi_write_jpg_to_func([](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  }, &out, img.width, img.height, img.channels, img.pixels.data(), 90);
  return out;
}

// A scan that names a Huffman table no DHT segment defined made stb 2.27 decode with uninitialised table memory
// (io_image_fuzz: an index of -1, differing from run to run): refused before stb sees the file.
TEST(Image, JpegScanWithAnUndefinedHuffmanTableIsRefused) {
  const std::string jpeg = encode_jpeg(gradient(16, 16));
  Image ok = decode_image(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), "photo.jpg");
  EXPECT_EQ(ok.width, 16);
  const size_t sos = jpeg.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  std::string bad = jpeg;
  bad[sos + 5 + 2 * 2 + 1] = char(0x31);  // the third component's DC table: 3, which no DHT defines
  EXPECT_NE(expect_rejected(bad).find("a scan uses a Huffman table no DHT segment defines"), std::string::npos);
}

// The same for a quantisation table no DQT defined (stb multiplied DC coefficients by garbage: a signed overflow).
TEST(Image, JpegComponentWithAnUndefinedQuantisationTableIsRefused) {
  const std::string jpeg = encode_jpeg(gradient(16, 16));
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  std::string bad = jpeg;
  bad[sof + 12 + 3 * 2] = char(3);  // the third component's quantisation table: 3, which no DQT defines
  EXPECT_NE(expect_rejected(bad).find("uses a quantisation table no DQT segment defines"), std::string::npos);
}

TEST(Image, TileLaysOutGrid) {
  std::vector<Image> tiles(5, gradient(4, 4));
  Image grid = tile_images(tiles, 3, 1);
  EXPECT_EQ(grid.width, 3 * 4 + 4);
  EXPECT_EQ(grid.height, 2 * 4 + 3);
  EXPECT_EQ(grid.at(0, 0)[0], 255);  // the gap is background
}

}  // namespace
