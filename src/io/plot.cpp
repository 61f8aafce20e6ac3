#include "io/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace couture {
namespace {

const uint8_t kPalette[][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                               {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};

void put(Image& img, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  uint8_t* p = img.at(x, y);
  for (int c = 0; c < img.channels; ++c) p[c] = rgb[img.channels == 3 ? c : 0];
}

void line(Image& img, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int thick = 1) {
  int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
  for (;;) {
    for (int t = 0; t < thick; ++t) put(img, x0, y0 + t, rgb);
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 1e4 || (std::fabs(v) < 1e-2 && v != 0) ? "%.2e" : "%.4g", v);
  return buf;
}

}  // namespace

void draw_text(Image& image, int x, int y, const std::string& text, const uint8_t rgb[3], int scale) {
  std::string ascii;
  for (unsigned char c : text) ascii.push_back(c < 128 ? char(c) : '?');
  std::vector<char> buffer(ascii.size() * 300 + 64);
  int quads = stb_easy_font_print(0, 0, ascii.data(), nullptr, buffer.data(), int(buffer.size()));
  const float* v = reinterpret_cast<const float*>(buffer.data());
  for (int q = 0; q < quads; ++q) {
    const float* quad = v + q * 16;  // 4 vertices of x, y, z, colour
    int qx0 = int(quad[0]), qy0 = int(quad[1]), qx1 = int(quad[8]), qy1 = int(quad[9]);
    for (int yy = qy0 * scale; yy < qy1 * scale; ++yy)
      for (int xx = qx0 * scale; xx < qx1 * scale; ++xx) put(image, x + xx, y + yy, rgb);
  }
}

Image plot_lines(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  Image img = make_image(options.width, options.height, 3, 255);
  const int left = 80, right = 20, top = 36, bottom = 44;
  const int pw = options.width - left - right, ph = options.height - top - bottom;
  auto fy = [&](double y) { return options.log_y ? std::log10(std::max(y, 1e-12)) : y; };
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, fy(s.y[i])), y1 = std::max(y1, fy(s.y[i]));
    }
  const uint8_t black[3] = {0, 0, 0}, grey[3] = {220, 220, 220};
  draw_text(img, left, 10, options.title, black, 2);
  line(img, left, top + ph, left + pw, top + ph, black);
  line(img, left, top, left, top + ph, black);
  if (!std::isfinite(x0)) return img;  // nothing to draw yet
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1e-6 + std::fabs(y0) * 1e-3;
  for (int g = 1; g <= 4; ++g) line(img, left + 1, top + ph * g / 5, left + pw, top + ph * g / 5, grey);
  auto px = [&](double x) { return left + int(std::lround((x - x0) / (x1 - x0) * pw)); };
  auto py = [&](double y) { return top + ph - int(std::lround((fy(y) - y0) / (y1 - y0) * ph)); };
  auto unfy = [&](double v) { return options.log_y ? std::pow(10.0, v) : v; };
  draw_text(img, 4, top, number(unfy(y1)), black, 1);
  draw_text(img, 4, top + ph - 8, number(unfy(y0)), black, 1);
  draw_text(img, left, top + ph + 6, number(x0), black, 1);
  draw_text(img, left + pw - 40, top + ph + 6, number(x1), black, 1);
  draw_text(img, left + pw / 2 - 20, top + ph + 22, options.x_label + (options.log_y ? "  (log y)" : ""), black, 1);
  for (size_t si = 0; si < series.size(); ++si) {
    const auto& s = series[si];
    const uint8_t* colour = kPalette[si % 8];
    int lx = left + 10 + int(si) * 150;
    line(img, lx, top - 6, lx + 20, top - 6, colour, 2);
    draw_text(img, lx + 24, top - 10, s.name, black, 1);
    bool have = false;
    int prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      int cx = px(s.x[i]), cy = py(s.y[i]);
      if (have) line(img, prev_x, prev_y, cx, cy, colour, 2);
      prev_x = cx, prev_y = cy, have = true;
    }
  }
  return img;
}

}  // namespace couture
