#include "data/fmnist_prepare.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "data/fmnist_synth.h"
#include "data/parallel.h"

namespace couture {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

// Bump when the drawing changes, so an earlier run's source folder is redrawn rather than reused.
constexpr int kSynthVersion = 1;

// Temporary file + rename: a crash never leaves a half-written file under the final name. No fsync: tens of
// thousands of small files, all of which a re-run can redraw.
void write_quick(const fs::path& path, const std::string& bytes) {
  fs::path tmp = path;
  tmp += ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  COUTURE_CHECK(f, "cannot write '", tmp.string(), "'");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fclose(f) == 0 && ok;
  COUTURE_CHECK(ok, "writing '", tmp.string(), "' failed (disk full?)");
  fs::rename(tmp, path);
}

std::string file_stem(const std::string& split, int64_t index) {
  char stem[64];
  std::snprintf(stem, sizeof stem, "fmnist-%s-%05lld", split.c_str(), static_cast<long long>(index));
  return stem;
}

// Garments of an earlier run with a larger --limit would otherwise be ingested too.
void remove_unchosen(const fs::path& labels, const fs::path& images, const std::string& split,
                     const std::vector<int64_t>& chosen) {
  std::set<std::string> wanted;
  for (int64_t i : chosen) wanted.insert(file_stem(split, i));
  for (const auto& entry : fs::directory_iterator(labels)) {
    std::string stem = entry.path().stem().string();
    if (wanted.count(stem)) continue;
    fs::remove(entry.path());
    fs::remove(images / (stem + ".png"));
  }
}

void prepare_source(const FmnistOptions& o, int threads, FmnistReport& report) {
  fs::path source = o.out_dir / "source";
  // A garment's drawing depends on these alone; --limit only chooses which garments are there.
  json settings = {{"synth_version", kSynthVersion}, {"size", o.size}, {"seed", o.seed}};
  fs::path settings_path = source / "fmnist.json";
  if (fs::exists(settings_path)) {
    if (read_json_file_or_null(settings_path) != settings) {
      log::info("Couture-FMNIST settings changed: redrawing '" + source.string() + "'");
      fs::remove_all(source);
    }
  }
  fs::create_directories(source);
  write_file_atomic(settings_path, settings.dump(2) + "\n");

  const char* idx_names[2] = {"train", "t10k"};
  for (int s = 0; s < 2; ++s) {
    const std::string split = s == 0 ? "train" : "test";
    FashionMnist data = read_fashion_mnist(o.fmnist_dir, idx_names[s]);
    std::vector<int64_t> chosen;
    for (int64_t i = 0; i < data.count && (o.limit <= 0 || int64_t(chosen.size()) < o.limit); ++i)
      if (fmnist_garment_class(data.labels[size_t(i)])) chosen.push_back(i);
    fs::path labels = source / "labels" / split, images = source / "images" / split;
    fs::create_directories(labels);
    fs::create_directories(images);
    remove_unchosen(labels, images, split, chosen);
    Progress progress("drawing " + split + " garments", int64_t(chosen.size()), "images");
    std::vector<char> reused(chosen.size(), 0);
    parallel_for(chosen.size(), threads, [&](size_t j) {
      int64_t i = chosen[j];
      std::string stem = file_stem(split, i);
      fs::path label_path = labels / (stem + ".json");
      if (fs::exists(label_path)) {  // written after its image: both are complete
        reused[j] = 1;
        progress.advance();
        return;
      }
      const GarmentClass& garment = *fmnist_garment_class(data.labels[size_t(i)]);
      GarmentStyle style = draw_garment_style(o.seed, split, i, o.size);
      SynthGarment g = colourise(data.image(i), data.rows, data.cols, o.size, style);
      std::string image_file = stem + ".png";
      write_quick(images / image_file, encode_png(g.image));
      write_quick(label_path, fmnist_label(garment, style, g.box, o.size, image_file, split, i).dump(1) + "\n");
      progress.advance();
    });
    for (char r : reused) (r ? report.reused[s] : report.written[s])++;
  }
}

// An 8 x 8 grid of training crops spread evenly over the split.
fs::path write_samples(const fs::path& out_dir) {
  Dataset ds = Dataset::open(out_dir, "train");
  if (ds.size() == 0) return {};
  std::vector<Image> tiles;
  int64_t n = std::min<int64_t>(64, ds.size());
  for (int64_t k = 0; k < n; ++k) tiles.push_back(ds.image_copy(k * ds.size() / n));
  fs::path path = out_dir / "samples.png";
  write_png(path, tile_images(tiles, 8, 2, 255));
  return path;
}

}  // namespace

FmnistReport prepare_fmnist(const FmnistOptions& o) {
  COUTURE_CHECK_INPUT(o.size >= 28 && o.size <= 1024, "--size ", o.size, " is outside 28..1024");
  COUTURE_CHECK_INPUT(o.limit >= 0, "--limit must not be negative");
  const int threads = o.threads > 0 ? o.threads : couture::threads();
  FmnistReport report;
  auto start = std::chrono::steady_clock::now();
  fs::create_directories(o.out_dir);
  prepare_source(o, threads, report);
  report.synth_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  IngestOptions io;
  io.labels_dir = o.out_dir / "source" / "labels";
  io.images_dir = o.out_dir / "source" / "images";
  io.out_dir = o.out_dir;
  io.size = o.size;
  io.split = SplitMode::folder;  // Fashion-MNIST's own train/test split
  io.threads = threads;
  io.origin = {{"generator", "couture prepare fmnist"},
               {"fashion_mnist", fs::absolute(o.fmnist_dir).string()},
               {"seed", o.seed},
               {"limit", o.limit},
               {"synth_version", kSynthVersion}};
  report.ingest = ingest_kfashion(io);
  report.samples = write_samples(o.out_dir);
  return report;
}

}  // namespace couture
