// Rectangles to crops: clipping to the photo, white padding to a square with the aspect kept, squashing.
#include "data/crop.h"

#include <gtest/gtest.h>

using namespace couture;
using kfashion::Rect;

TEST(Crop, RectanglesAreRoundedOutwardsAndClipped) {
  auto box = clip_rect(Rect{202.5, 68.5, 416, 476}, 800, 700);
  ASSERT_TRUE(box);
  EXPECT_EQ(box->x0, 202);
  EXPECT_EQ(box->y0, 68);
  EXPECT_EQ(box->x1, 619);
  EXPECT_EQ(box->y1, 545);
  auto clipped = clip_rect(Rect{-50, 600, 100, 500}, 800, 700);
  ASSERT_TRUE(clipped);
  EXPECT_EQ(clipped->x0, 0);
  EXPECT_EQ(clipped->x1, 50);
  EXPECT_EQ(clipped->y1, 700);
  auto scaled = clip_rect(Rect{100, 100, 200, 200}, 400, 350, 0.5, 0.5);  // labels of an 800x700 photo
  ASSERT_TRUE(scaled);
  EXPECT_EQ(scaled->x0, 50);
  EXPECT_EQ(scaled->x1, 150);
}

TEST(Crop, EmptyOrOutsideRectanglesAreRejected) {
  EXPECT_FALSE(clip_rect(Rect{10, 10, 0, 50}, 100, 100));
  EXPECT_FALSE(clip_rect(Rect{10, 10, 50, -5}, 100, 100));
  EXPECT_FALSE(clip_rect(Rect{5000, 10, 50, 50}, 100, 100));
  EXPECT_FALSE(clip_rect(Rect{99.5, 10, 50, 50}, 100, 100));  // one pixel column left
  EXPECT_FALSE(clip_rect(Rect{1e308, 1e308, 1e308, 1e308}, 100, 100));
}

TEST(Crop, PadKeepsTheAspectOnWhiteAndSquashStretches) {
  Image photo = make_image(100, 100, 3, 0);
  for (int y = 10; y < 90; ++y)
    for (int x = 30; x < 70; ++x) photo.at(x, y)[0] = 200;  // a red 40 x 80 garment on black
  PixelBox box{30, 10, 70, 90};
  Image padded = crop_square(photo, box, 32, ResizeMode::pad);
  ASSERT_EQ(padded.width, 32);
  ASSERT_EQ(padded.height, 32);
  EXPECT_EQ(padded.at(0, 16)[0], 255);  // white bars left and right
  EXPECT_EQ(padded.at(31, 16)[1], 255);
  EXPECT_EQ(padded.at(16, 0)[0], 200);  // the garment reaches top and bottom
  EXPECT_EQ(padded.at(16, 16)[1], 0);
  Image squashed = crop_square(photo, box, 32, ResizeMode::squash);
  EXPECT_EQ(squashed.at(0, 16)[0], 200);  // no padding: the garment fills the square
  EXPECT_EQ(squashed.at(31, 31)[1], 0);
}
