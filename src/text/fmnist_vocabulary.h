// Couture-FMNIST's vocabulary in K-Fashion's terms: the colours its garments are painted in (with the RGB of each),
// its prints, and the part and category of the garment classes it keeps. Torch-free, so that the data it makes
// (data/fmnist_synth) and the studio's pickers (serve, GET /v1/config) read the same table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace couture {

struct PaletteColour {
  const char* name;  // K-Fashion 색상
  uint8_t r, g, b;
};

// The K-Fashion colours Couture-FMNIST draws from, with the RGB each is painted in.
const std::vector<PaletteColour>& fmnist_palette();
// "#rrggbb", as a web page writes the colour.
std::string hex_colour(const PaletteColour& colour);
// The prints: 무지 (plain), 스트라이프, 체크, 도트.
const std::vector<std::string>& fmnist_prints();

struct GarmentClass {
  int label;             // Fashion-MNIST class index
  const char* english;   // Fashion-MNIST class name
  const char* part;      // K-Fashion part
  const char* category;  // K-Fashion 카테고리
};
// The garments kept, in Fashion-MNIST's class order: T-shirt/top -> 상의 티셔츠, Trouser -> 하의 팬츠,
// Pullover -> 상의 니트웨어, Dress -> 원피스 드레스, Coat -> 아우터 코트, Shirt -> 상의 셔츠.
const std::vector<GarmentClass>& fmnist_garment_classes();
const GarmentClass* fmnist_garment_class(int label);  // nullptr for the non-garment classes

}  // namespace couture
