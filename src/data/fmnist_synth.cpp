#include "data/fmnist_synth.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "data/portable_random.h"
#include "data/stable_hash.h"

namespace couture {
using json = nlohmann::ordered_json;

namespace {

double colour_distance2(const PaletteColour& a, const PaletteColour& b) {
  double dr = a.r - b.r, dg = a.g - b.g, db = a.b - b.b;
  return dr * dr + dg * dg + db * db;
}

double smoothstep(double lo, double hi, double v) {
  double t = std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

// Coverage of a band of half-width hw centred in each period, at coordinate t (pixel centres, 1-pixel ramp).
double band(double t, double period, double phase, double hw) {
  double u = std::fmod(t + 0.5 + phase, period);
  return std::clamp(hw - std::abs(u - period / 2) + 0.5, 0.0, 1.0);
}

double dots(double x, double y, const GarmentStyle& s) {
  double p = s.period, yy = y + 0.5 + s.phase_y;
  double row = std::floor(yy / p);
  double xx = x + 0.5 + s.phase_x + (std::fmod(row, 2.0) != 0 ? p / 2 : 0);  // staggered rows
  double dx = std::fmod(xx, p) - p / 2, dy = std::fmod(yy, p) - p / 2;
  return std::clamp(p * 0.28 - std::sqrt(dx * dx + dy * dy) + 0.5, 0.0, 1.0);
}

// Indices into fmnist_prints().
enum Print { kPlain = 0, kStripes = 1, kCheck = 2, kDots = 3 };

double print_coverage(int x, int y, const GarmentStyle& s) {
  switch (s.print) {
    case kStripes: return band(s.vertical ? x : y, s.period, s.vertical ? s.phase_x : s.phase_y, s.period * 0.25);
    case kCheck: return 0.5 * (band(x, s.period, s.phase_x, s.period * 0.2) + band(y, s.period, s.phase_y, s.period * 0.2));
    case kDots: return dots(x, y, s);
    default: return 0.0;
  }
}

json empty_parts(const json& garment_entry, const std::string& garment_part) {
  json parts = json::object();
  for (const char* p : {"아우터", "하의", "원피스", "상의"})
    parts[p] = p == garment_part ? garment_entry : json::array({json::object()});
  return parts;
}

}  // namespace

GarmentStyle draw_garment_style(uint64_t seed, const std::string& split, int64_t index, int size) {
  std::mt19937_64 rng(stable_hash(std::to_string(seed) + "/" + split + "/" + std::to_string(index)));
  const auto& palette = fmnist_palette();
  GarmentStyle s;
  s.colour = int(uniform_below(rng, palette.size()));
  s.print = int(uniform_below(rng, fmnist_prints().size()));
  // The sub-colour must stand out from the main colour, or the print would not show.
  s.sub_colour = s.colour;
  for (int tries = 0; tries < 64 && (s.sub_colour == s.colour ||
                                     colour_distance2(palette[size_t(s.sub_colour)], palette[size_t(s.colour)]) < 110.0 * 110.0);
       ++tries)
    s.sub_colour = int(uniform_below(rng, palette.size()));
  if (s.sub_colour == s.colour) s.sub_colour = s.colour == 0 ? 1 : 0;  // 화이트 / 블랙 stand out from anything
  s.period = std::max(4.0, size * (0.10 + 0.06 * uniform_unit(rng)));
  s.phase_x = uniform_unit(rng) * s.period;
  s.phase_y = uniform_unit(rng) * s.period;
  s.vertical = uniform_below(rng, 2) == 1;
  return s;
}

SynthGarment colourise(const uint8_t* grey, int rows, int cols, int size, const GarmentStyle& style) {
  Image small = make_image(cols, rows, 1);
  std::copy(grey, grey + size_t(rows) * cols, small.pixels.begin());
  Image g = rows == size && cols == size ? small : resize_image(small, size, size);

  std::vector<double> alpha(size_t(size) * size);
  double sum = 0, n = 0;
  for (size_t i = 0; i < alpha.size(); ++i) {
    double v = g.pixels[i] / 255.0;
    alpha[i] = smoothstep(2.0 / 255, 24.0 / 255, v);
    if (alpha[i] > 0.5) sum += v, n += 1;
  }
  double mean = n > 0 ? sum / n : 1.0;

  const auto& main = fmnist_palette()[size_t(style.colour)];
  const auto& sub = fmnist_palette()[size_t(style.sub_colour)];
  SynthGarment out{make_image(size, size, 3, 255), {size, size, 0, 0}};
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      size_t i = size_t(y) * size + x;
      double a = alpha[i];
      if (a <= 0) continue;
      double shade = std::clamp(0.55 + 0.45 * (g.pixels[i] / 255.0) / mean, 0.5, 1.2);
      double p = print_coverage(x, y, style);
      uint8_t* px = out.image.at(x, y);
      const uint8_t main_rgb[3] = {main.r, main.g, main.b}, sub_rgb[3] = {sub.r, sub.g, sub.b};
      for (int c = 0; c < 3; ++c) {
        double colour = std::min(255.0, (main_rgb[c] * (1 - p) + sub_rgb[c] * p) * shade);
        px[c] = uint8_t(std::lround(255.0 * (1 - a) + a * colour));
      }
      if (a >= 0.5) {
        out.box.x0 = std::min(out.box.x0, x), out.box.y0 = std::min(out.box.y0, y);
        out.box.x1 = std::max(out.box.x1, x + 1), out.box.y1 = std::max(out.box.y1, y + 1);
      }
    }
  }
  if (out.box.width() < 2 || out.box.height() < 2) out.box = {0, 0, size, size};  // an empty drawing: the whole
  return out;
}

json fmnist_label(const GarmentClass& garment, const GarmentStyle& style, const PixelBox& box, int size,
                  const std::string& image_file, const std::string& split, int64_t index) {
  const auto& palette = fmnist_palette();
  const std::string& print = fmnist_prints()[size_t(style.print)];
  json attributes = {{"색상", palette[size_t(style.colour)].name}};
  if (print != "무지") attributes["서브색상"] = palette[size_t(style.sub_colour)].name;  // a plain garment shows none
  attributes["카테고리"] = garment.category;
  attributes["프린트"] = json::array({print});
  json rect = {{"X좌표", box.x0}, {"Y좌표", box.y0}, {"가로", box.width()}, {"세로", box.height()}};

  json labelling = {{"스타일", json::array({json::object()})}};
  json garment_parts = empty_parts(json::array({attributes}), garment.part);
  for (auto& [k, v] : garment_parts.items()) labelling[k] = v;
  json polygons = empty_parts(json::array({json::object()}), "");
  return {{"이미지 정보",
           {{"이미지 식별자", index}, {"이미지 높이", size}, {"이미지 파일명", image_file}, {"이미지 너비", size}}},
          {"데이터셋 정보",
           {{"파일 생성일자", "2017-08-25 00:00:00"},
            {"데이터셋 상세설명",
             {{"렉트좌표", empty_parts(json::array({rect}), garment.part)},
              {"폴리곤좌표", polygons},
              {"라벨링", labelling}}},
            {"파일 번호", index},
            {"파일 이름", image_file},
            {"출처", "Fashion-MNIST " + split + " #" + std::to_string(index) + " (" + garment.english + ")"}}}};
}

}  // namespace couture
