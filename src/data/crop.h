// From a photo and its labelled rectangles to a square training image: clip the rectangles to the photo, crop,
// then either pad to a square with white (aspect kept) or squash (the original KoDALLE), and resize.
#pragma once
#include <optional>
#include <vector>

#include "io/image.h"
#include "text/kfashion_labels.h"

namespace couture {

enum class ResizeMode { pad, squash };

// Pixel box [x0, x1) x [y0, y1).
struct PixelBox {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
};

// The rectangle scaled by (sx, sy) (label coordinates to photo pixels), rounded outwards and clipped to the photo;
// nullopt when it has no size, lies outside, or keeps less than 2 pixels a side after clipping.
std::optional<PixelBox> clip_rect(const kfashion::Rect& rect, int width, int height, double sx = 1, double sy = 1);
PixelBox union_box(const PixelBox& a, const PixelBox& b);

// Crops `box` out of `image` (RGB) into a size x size image.
Image crop_square(const Image& image, const PixelBox& box, int size, ResizeMode mode);

}  // namespace couture
