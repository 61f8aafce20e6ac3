// Couture-FMNIST synthesis: a Fashion-MNIST garment (grey, 28x28) becomes a colour garment on white with a
// K-Fashion main colour (색상), a print (프린트) in a sub-colour (서브색상), and a K-Fashion label file.
// docs/data.md shows the palette, the prints and a sample grid.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/crop.h"
#include "data/fmnist.h"
#include "io/image.h"
#include "text/fmnist_vocabulary.h"  // the palette and the prints

namespace couture {

// Everything random about one synthetic garment, drawn from (seed, split, index) alone.
struct GarmentStyle {
  int colour = 0, sub_colour = 0;  // indices into fmnist_palette()
  int print = 0;                   // index into fmnist_prints()
  double period = 8;               // pattern repeat in output pixels
  double phase_x = 0, phase_y = 0;
  bool vertical = false;           // stripes run top to bottom
};
GarmentStyle draw_garment_style(uint64_t seed, const std::string& split, int64_t index, int size);

struct SynthGarment {
  Image image;     // size x size RGB, garment on white
  PixelBox box;    // the garment's bounding box
};

// Upscales the grey garment to size x size first (so prints are drawn at output resolution), then paints:
// alpha from the grey value (the garment's silhouette), shading from the grey relative to the garment's mean,
// out = white * (1 - alpha) + alpha * shade * mix(colour, sub_colour, print coverage).
SynthGarment colourise(const uint8_t* grey, int rows, int cols, int size, const GarmentStyle& style);

// The K-Fashion label file of a synthetic garment (every part present, only the garment's labelled).
nlohmann::ordered_json fmnist_label(const GarmentClass& garment, const GarmentStyle& style, const PixelBox& box,
                                    int size, const std::string& image_file, const std::string& split,
                                    int64_t index);

}  // namespace couture
