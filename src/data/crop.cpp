#include "data/crop.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace couture {

std::optional<PixelBox> clip_rect(const kfashion::Rect& r, int width, int height, double sx, double sy) {
  if (!(r.width > 0 && r.height > 0)) return std::nullopt;
  double x0 = std::floor(r.x * sx), y0 = std::floor(r.y * sy);
  double x1 = std::ceil((r.x + r.width) * sx), y1 = std::ceil((r.y + r.height) * sy);
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return std::nullopt;
  PixelBox box{int(std::clamp(x0, 0.0, double(width))), int(std::clamp(y0, 0.0, double(height))),
               int(std::clamp(x1, 0.0, double(width))), int(std::clamp(y1, 0.0, double(height)))};
  if (box.width() < 2 || box.height() < 2) return std::nullopt;
  return box;
}

PixelBox union_box(const PixelBox& a, const PixelBox& b) {
  return {std::min(a.x0, b.x0), std::min(a.y0, b.y0), std::max(a.x1, b.x1), std::max(a.y1, b.y1)};
}

namespace {

Image cut(const Image& image, const PixelBox& box) {
  Image out = make_image(box.width(), box.height(), image.channels);
  for (int y = 0; y < box.height(); ++y)
    std::memcpy(out.at(0, y), image.at(box.x0, box.y0 + y), size_t(box.width()) * image.channels);
  return out;
}

Image resized(const Image& image, int width, int height) {
  if (image.width == width && image.height == height) return image;  // a filter at scale 1 would only blur
  return resize_image(image, width, height);
}

}  // namespace

Image crop_square(const Image& image, const PixelBox& box, int size, ResizeMode mode) {
  COUTURE_CHECK(box.x0 >= 0 && box.y0 >= 0 && box.x1 <= image.width && box.y1 <= image.height && box.width() > 0 &&
                    box.height() > 0 && size > 0,
                "crop_square: box outside the image");
  Image crop = cut(image, box);
  if (mode == ResizeMode::squash) return resized(crop, size, size);
  // Scale the crop so its longer side is `size`, then centre it on white: the edges stay sharp, as the padding
  // never passes through the filter.
  int side = std::max(crop.width, crop.height);
  int w = std::clamp(int(std::lround(double(crop.width) * size / side)), 1, size);
  int h = std::clamp(int(std::lround(double(crop.height) * size / side)), 1, size);
  Image scaled = resized(crop, w, h);
  Image out = make_image(size, size, image.channels, 255);
  int ox = (size - w) / 2, oy = (size - h) / 2;
  for (int y = 0; y < h; ++y) std::memcpy(out.at(ox, oy + y), scaled.at(0, y), size_t(w) * image.channels);
  return out;
}

}  // namespace couture
