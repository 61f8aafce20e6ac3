#include "text/fmnist_vocabulary.h"

#include <cstdio>

namespace couture {

const std::vector<PaletteColour>& fmnist_palette() {
  static const std::vector<PaletteColour> palette = {
      {"화이트", 245, 245, 245}, {"블랙", 25, 25, 25},       {"그레이", 135, 135, 135}, {"레드", 205, 30, 40},
      {"핑크", 245, 150, 185},   {"오렌지", 250, 130, 20},   {"베이지", 225, 200, 160}, {"브라운", 125, 75, 40},
      {"옐로우", 250, 215, 40},  {"그린", 35, 145, 65},      {"카키", 115, 115, 55},    {"민트", 150, 230, 200},
      {"스카이블루", 135, 195, 245}, {"블루", 30, 80, 210}, {"네이비", 25, 35, 95},    {"퍼플", 125, 50, 160},
      {"라벤더", 185, 165, 230}, {"와인", 115, 20, 50},
  };
  return palette;
}

std::string hex_colour(const PaletteColour& colour) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", colour.r, colour.g, colour.b);
  return text;
}

const std::vector<std::string>& fmnist_prints() {
  static const std::vector<std::string> prints = {"무지", "스트라이프", "체크", "도트"};
  return prints;
}

const std::vector<GarmentClass>& fmnist_garment_classes() {
  static const std::vector<GarmentClass> classes = {
      {0, "T-shirt/top", "상의", "티셔츠"}, {1, "Trouser", "하의", "팬츠"}, {2, "Pullover", "상의", "니트웨어"},
      {3, "Dress", "원피스", "드레스"},     {4, "Coat", "아우터", "코트"},  {6, "Shirt", "상의", "셔츠"},
  };
  return classes;
}

const GarmentClass* fmnist_garment_class(int label) {
  for (const auto& c : fmnist_garment_classes())
    if (c.label == label) return &c;
  return nullptr;
}

}  // namespace couture
