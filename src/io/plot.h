// Line plots as PNG-ready images (loss curves, metrics), drawn without any plotting library: axes, min/max tick
// labels (stb_easy_font), one colour per series, optional log scale on y.
#pragma once
#include <string>
#include <vector>

#include "io/image.h"

namespace couture {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

struct PlotOptions {
  std::string title;
  std::string x_label = "step";
  bool log_y = false;
  int width = 800, height = 480;
};

Image plot_lines(const std::vector<PlotSeries>& series, const PlotOptions& options = {});

// Draws ASCII text (scale x the 1-pixel font) onto an image; used for labels on plots and contact sheets.
void draw_text(Image& image, int x, int y, const std::string& text, const uint8_t rgb[3], int scale = 1);

}  // namespace couture
