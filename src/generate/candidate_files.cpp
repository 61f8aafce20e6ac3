#include "generate/candidate_files.h"

#include <algorithm>
#include <cstdio>

#include "core/atomic_file.h"
#include "io/plot.h"
#include "text/prompt_parse.h"

namespace couture {

nlohmann::ordered_json attributes_json(const Candidate& candidate) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [attribute, p] : candidate.attributes) j[attribute] = p;
  return j;
}

std::string candidate_parameters(const GenerateParams& params, const Candidate& c, size_t rank,
                                 const std::string& model_name) {
  nlohmann::ordered_json parameters = {{"prompt", params.prompt}, {"seed", c.seed},   {"index", c.index},
                                       {"rank", rank},            {"score", c.score}, {"settings", params.settings_json()}};
  if (!c.attributes.empty()) parameters["attributes"] = attributes_json(c);
  if (!model_name.empty()) parameters["model"] = model_name;
  return parameters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Image contact_sheet(const std::vector<Candidate>& candidates, int top, int cols) {
  if (candidates.empty()) return make_image(1, 1, 3);
  const Image& first = candidates.front().image;
  const int scale = std::max(1, (128 + first.width - 1) / first.width);
  const int w = first.width * scale, h = first.height * scale, frame = 3, label = 14;
  std::vector<Image> tiles;
  for (size_t rank = 0; rank < candidates.size(); ++rank) {
    const Candidate& c = candidates[rank];
    Image tile = make_image(w + 2 * frame, h + 2 * frame + label, 3);
    std::fill(tile.pixels.begin(), tile.pixels.end(), uint8_t(255));
    const bool kept = int(rank) < top;
    const uint8_t border[3] = {kept ? uint8_t(220) : uint8_t(255), kept ? uint8_t(40) : uint8_t(255),
                               kept ? uint8_t(90) : uint8_t(255)};
    for (int y = 0; y < h + 2 * frame; ++y)
      for (int x = 0; x < w + 2 * frame; ++x) std::copy(border, border + 3, tile.at(x, y));
    const Image big = resize_image(c.image, w, h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const uint8_t* p = big.pixels.data() + (size_t(y) * w + x) * big.channels;
        uint8_t* q = tile.at(x + frame, y + frame);
        for (int k = 0; k < 3; ++k) q[k] = p[big.channels == 3 ? k : 0];
      }
    char text[64];
    std::snprintf(text, sizeof text, "%zu  %.3f  #%d", rank + 1, c.score, c.index);
    const uint8_t ink[3] = {20, 20, 20};
    draw_text(tile, frame + 2, h + 2 * frame + 3, text, ink);
    tiles.push_back(std::move(tile));
  }
  return tile_images(tiles, std::min<int>(cols, int(tiles.size())), 4);
}

nlohmann::ordered_json write_result_folder(const GenerateParams& params, const GenerateResult& result,
                                    const std::string& model_name, const std::filesystem::path& dir, double seconds) {
  std::filesystem::create_directories(dir);
  nlohmann::ordered_json top = nlohmann::ordered_json::array();
  for (size_t rank = 0; rank < result.candidates.size() && int(rank) < params.top; ++rank) {
    const auto& c = result.candidates[rank];
    char name[32];
    std::snprintf(name, sizeof name, "rank-%02zu.png", rank + 1);
    write_png(dir / name, c.image, candidate_parameters(params, c, rank, model_name));
    top.push_back({{"file", (dir / name).string()}, {"index", c.index}, {"seed", c.seed}, {"score", c.score}});
    if (!c.attributes.empty()) top.back()["attributes"] = attributes_json(c);
  }
  write_png(dir / "contact.png", contact_sheet(result.candidates, params.top));
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& c : result.candidates) {
    all.push_back({{"index", c.index}, {"seed", c.seed}, {"score", c.score}});
    if (!c.attributes.empty()) all.back()["attributes"] = attributes_json(c);
  }
  nlohmann::ordered_json summary = {{"prompt", params.prompt},  {"model", model_name},
                                    {"n", params.n},            {"seed", params.seed},
                                    {"top", top},               {"contact_sheet", (dir / "contact.png").string()},
                                    {"seconds", seconds},       {"timings", result.timings},
                                    {"settings", params.settings_json()},
                                    {"understood", parse_prompt(params.prompt).to_json()}};
  // What the models read, when not the prompt as typed (prompt_as "understood").
  if (!result.caption.empty() && result.caption != params.prompt) summary["caption"] = result.caption;
  nlohmann::ordered_json record = summary;
  record["candidates"] = all;
  write_file_atomic(dir / "result.json", record.dump(2) + "\n");
  return summary;
}

}  // namespace couture
