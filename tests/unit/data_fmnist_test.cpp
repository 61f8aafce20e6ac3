// Couture-FMNIST: the class map, the palette, deterministic styles, the drawing (white background, shading kept,
// prints in the sub-colour) and label files that the K-Fashion parser reads back into the right captions.
#include "data/fmnist_synth.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <set>

#include "core/error.h"
#include "support/temp_dir.h"
#include "text/caption.h"

using namespace couture;
using couture::testing::TempDir;

namespace {

// A 28 x 28 Fashion-MNIST-like garment: a block of grey 200 with a darker fold (100) on black.
std::vector<uint8_t> block_garment() {
  std::vector<uint8_t> g(28 * 28, 0);
  for (int y = 4; y < 24; ++y)
    for (int x = 8; x < 20; ++x) g[size_t(y) * 28 + x] = x < 12 ? 100 : 200;
  return g;
}

int style_with_print(const std::string& print) {
  for (int i = 0; i < 1000; ++i)
    if (fmnist_prints()[size_t(draw_garment_style(1, "train", i, 64).print)] == print) return i;
  return -1;
}

}  // namespace

TEST(Fmnist, GarmentClassesMapToKFashionParts) {
  ASSERT_EQ(fmnist_garment_classes().size(), 6u);
  EXPECT_STREQ(fmnist_garment_class(0)->category, "티셔츠");
  EXPECT_STREQ(fmnist_garment_class(1)->part, "하의");
  EXPECT_STREQ(fmnist_garment_class(2)->category, "니트웨어");
  EXPECT_STREQ(fmnist_garment_class(3)->part, "원피스");
  EXPECT_STREQ(fmnist_garment_class(4)->category, "코트");
  EXPECT_STREQ(fmnist_garment_class(6)->category, "셔츠");
  for (int sandal_sneaker_bag_boot : {5, 7, 8, 9}) EXPECT_EQ(fmnist_garment_class(sandal_sneaker_bag_boot), nullptr);
}

TEST(Fmnist, PaletteHoldsTheKFashionColours) {
  std::set<std::string> names;
  for (const auto& c : fmnist_palette()) {
    names.insert(c.name);
    EXPECT_TRUE(kfashion::is_known_value("색상", c.name)) << c.name;
  }
  for (const char* wanted : {"화이트", "블랙", "그레이", "레드", "핑크", "오렌지", "베이지", "브라운", "옐로우", "그린",
                             "카키", "민트", "스카이블루", "블루", "네이비", "퍼플", "라벤더", "와인"})
    EXPECT_TRUE(names.count(wanted)) << wanted;
  EXPECT_EQ(fmnist_prints(), (std::vector<std::string>{"무지", "스트라이프", "체크", "도트"}));
}

TEST(Fmnist, StylesAreDeterministicAndSubColoursStandOut) {
  std::set<int> colours, prints;
  for (int i = 0; i < 400; ++i) {
    GarmentStyle a = draw_garment_style(5, "train", i, 64), b = draw_garment_style(5, "train", i, 64);
    EXPECT_EQ(a.colour, b.colour);
    EXPECT_EQ(a.print, b.print);
    EXPECT_DOUBLE_EQ(a.phase_x, b.phase_x);
    EXPECT_NE(a.colour, a.sub_colour);
    colours.insert(a.colour);
    prints.insert(a.print);
  }
  EXPECT_EQ(colours.size(), fmnist_palette().size());
  EXPECT_EQ(prints.size(), 4u);
  int differ = 0;
  for (int i = 0; i < 50; ++i) differ += draw_garment_style(5, "train", i, 64).colour != draw_garment_style(6, "train", i, 64).colour;
  EXPECT_GT(differ, 30);
}

TEST(Fmnist, DrawingKeepsShadingOnWhiteAndFindsTheGarment) {
  auto grey = block_garment();
  GarmentStyle plain = draw_garment_style(1, "train", style_with_print("무지"), 64);
  SynthGarment g = colourise(grey.data(), 28, 28, 64, plain);
  ASSERT_EQ(g.image.width, 64);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(g.image.at(1, 1)[c], 255);  // background
  // The box is the upscaled block (x 8..20, y 4..24 of 28) give or take the filter's edge.
  EXPECT_NEAR(g.box.x0, 8 * 64 / 28, 2);
  EXPECT_NEAR(g.box.x1, 20 * 64 / 28, 2);
  EXPECT_NEAR(g.box.y0, 4 * 64 / 28, 2);
  EXPECT_NEAR(g.box.y1, 24 * 64 / 28, 2);
  // Shading: the fold is darker than the rest, in the same hue.
  const auto& main = fmnist_palette()[size_t(plain.colour)];
  const uint8_t* fold = g.image.at(22, 32);
  const uint8_t* body = g.image.at(36, 32);
  int fold_sum = fold[0] + fold[1] + fold[2], body_sum = body[0] + body[1] + body[2];
  if (main.r + main.g + main.b > 150) {
    EXPECT_LT(fold_sum, body_sum);
  }
  EXPECT_NEAR(body[0], std::min(255.0, main.r * 1.09), 20);
}

TEST(Fmnist, PrintsShowTheSubColour) {
  auto grey = block_garment();
  for (const char* print : {"스트라이프", "체크", "도트"}) {
    GarmentStyle s = draw_garment_style(1, "train", style_with_print(print), 64);
    SynthGarment g = colourise(grey.data(), 28, 28, 64, s);
    const auto& sub = fmnist_palette()[size_t(s.sub_colour)];
    int near_sub = 0;
    for (int y = 14; y < 50; ++y)
      for (int x = 28; x < 42; ++x) {
        const uint8_t* p = g.image.at(x, y);
        double d = std::abs(p[0] - sub.r * 1.09) + std::abs(p[1] - sub.g * 1.09) + std::abs(p[2] - sub.b * 1.09);
        near_sub += d < 90;
      }
    EXPECT_GT(near_sub, 20) << print;
  }
}

TEST(Fmnist, LabelFilesReadBackAsKFashion) {
  GarmentStyle s = draw_garment_style(1, "train", style_with_print("스트라이프"), 64);
  auto label_json = fmnist_label(*fmnist_garment_class(4), s, PixelBox{3, 4, 50, 60}, 64, "fmnist-train-00007.png",
                                 "train", 7);
  kfashion::Label label = kfashion::parse_label(label_json.dump());
  EXPECT_EQ(label.image_file, "fmnist-train-00007.png");
  const kfashion::Part* coat = label.find("아우터");
  ASSERT_NE(coat, nullptr);
  ASSERT_TRUE(coat->rect.has_value());
  EXPECT_EQ(coat->rect->width, 47);
  std::string colour = fmnist_palette()[size_t(s.colour)].name, sub = fmnist_palette()[size_t(s.sub_colour)].name;
  EXPECT_EQ(kfashion::full_caption(label, {}), "아우터에서 색상은 " + colour + "이다. 아우터에서 서브색상은 " + sub +
                                                   "이다. 아우터에서 카테고리는 코트이다. 아우터에서 프린트에는 스트라이프이다.");
  EXPECT_EQ(kfashion::short_caption(label), "아우터는 " + colour + " 색상의 코트이다.");
  // A plain garment names no sub-colour: none shows.
  GarmentStyle plain = draw_garment_style(1, "train", style_with_print("무지"), 64);
  auto plain_label = kfashion::parse_label(fmnist_label(*fmnist_garment_class(1), plain, {0, 0, 9, 9}, 64, "p.png", "train", 1).dump());
  EXPECT_EQ(plain_label.find("하의")->find("서브색상"), nullptr);
}

TEST(Fmnist, MissingOrBrokenFilesNameTheDebianPackage) {
  TempDir dir;
  try {
    read_fashion_mnist(dir.path(), "train");
    FAIL() << "read an empty folder";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos) << e.what();
  }
  gzFile f = gzopen((dir / "train-images-idx3-ubyte.gz").c_str(), "wb");
  gzwrite(f, "\x00\x00\x08\x01 junk", 9);  // a 1-dimensional magic where 3 are expected
  gzclose(f);
  try {
    read_fashion_mnist(dir.path(), "train");
    FAIL() << "read a broken IDX file";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train-images-idx3-ubyte.gz"), std::string::npos) << e.what();
  }
}

TEST(Fmnist, DebianFilesHoldSixtyThousandTrainingImages) {
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz"))
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  FashionMnist test = read_fashion_mnist(kFashionMnistDir, "t10k");
  EXPECT_EQ(test.count, 10000);
  EXPECT_EQ(test.rows, 28);
  int garments = 0;
  for (uint8_t l : test.labels) garments += fmnist_garment_class(l) != nullptr;
  EXPECT_EQ(garments, 6000);
}
