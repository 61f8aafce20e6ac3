// couture eval vqgan --vqgan RUN --dataset D: PSNR, SSIM, codebook usage and perplexity on a split, as one JSON line
// and a markdown table, plus a grid of originals over reconstructions. With --judge, also how often the judge
// (couture train judge) reads each image's category, colour and print right before and after the VQGAN: what the
// tokenizer keeps of what captions describe.
// couture vqgan recon --vqgan RUN IMAGE... --out DIR: reconstructions of any images, for people to look at.
// couture vqgan recon --vqgan RUN --dataset D --out D2: a prepared dataset whose images are D's after the VQGAN
// (encoded, decoded), captions unchanged: what a reranker sees at generation time, to train one on (docs/clip.md).
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/error.h"
#include "core/atomic_file.h"
#include "core/files.h"
#include "core/progress.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "nn/tensor_io.h"
#include "eval/judge_trainer.h"
#include "eval/vqgan_eval.h"
#include "io/image.h"

namespace {
namespace fs = std::filesystem;

struct EvalOptions {
  std::string vqgan, dataset, split = "test", grid, judge;
  int64_t limit = 0, batch = 64;
};

void eval_vqgan(const EvalOptions& o) {
  const fs::path file = couture::run_file(o.vqgan, "vqgan.safetensors");
  auto model = couture::load_vqgan(file);
  const auto data = couture::Dataset::open(o.dataset, o.split);
  const auto judge = o.judge.empty() ? nullptr : couture::load_judge(o.judge);
  const auto r = couture::evaluate_vqgan(*model, data, judge.get(), {.limit = o.limit, .batch = o.batch});
  nlohmann::ordered_json j = {{"vqgan", file.string()}, {"dataset", o.dataset}, {"split", o.split}};
  j.update(r.to_json());
  if (judge) j["judge"] = o.judge;
  if (!o.grid.empty()) {
    couture::write_png(o.grid, r.grid());
    j["grid"] = o.grid;
  }
  std::printf("%s\n%s", j.dump().c_str(), r.markdown().c_str());
}

struct ReconOptions {
  std::string vqgan, out, dataset;
  std::vector<std::string> images;
  int64_t limit = 0, batch = 64;
};

// Each split of D through the VQGAN into OUT: the same dataset.json (counts cut to --limit), captions and record
// order, each images file written whole to a temporary name and renamed.
void recon_dataset(const ReconOptions& o) {
  torch::NoGradGuard no_grad;
  auto model = couture::load_vqgan(couture::run_file(o.vqgan, "vqgan.safetensors"));
  model->eval();
  const fs::path from = o.dataset, out = o.out;
  COUTURE_CHECK_INPUT(fs::absolute(from) != fs::absolute(out), "--out must differ from --dataset");
  fs::create_directories(out);
  auto manifest = couture::read_ordered_json_file(from / "dataset.json");
  for (auto& [split, entry] : manifest["splits"].items()) {
    const auto data = couture::Dataset::open(from, split);
    const int64_t n = o.limit > 0 ? std::min(o.limit, data.size()) : data.size();
    entry["count"] = n;
    couture::ImagesHeader header{couture::kDatasetVersion, uint32_t(data.height()), uint32_t(data.width()),
                                 uint32_t(data.channels()), uint64_t(n)};
    std::string bytes = couture::encode_images_header(header);
    bytes.reserve(bytes.size() + size_t(n) * header.record_bytes());
    couture::Progress progress("vqgan recon " + split, n, "images");
    for (int64_t start = 0; start < n; start += o.batch) {
      std::vector<int64_t> idx;
      for (int64_t i = start; i < std::min(n, start + o.batch); ++i) idx.push_back(i);
      const at::Tensor x = couture::images_to_tensor(data, idx);
      const at::Tensor y = model->decode_codes(model->encode_codes(x)).to(at::kFloat).clamp(-1, 1);
      const at::Tensor pixels =
          ((y + 1) * 127.5).round().clamp(0, 255).to(at::kByte).permute({0, 2, 3, 1}).contiguous();
      bytes.append(reinterpret_cast<const char*>(pixels.data_ptr<uint8_t>()), size_t(pixels.numel()));
      progress.advance(int64_t(idx.size()));
    }
    progress.finish();
    couture::write_file_atomic(out / entry["images"].get<std::string>(), bytes);
    std::string captions;
    const std::string all = couture::read_file(from / entry["captions"].get<std::string>());
    for (size_t pos = 0, line = 0; pos < all.size() && int64_t(line) < n; ++line) {
      const size_t end = all.find('\n', pos);
      captions += all.substr(pos, end == std::string::npos ? std::string::npos : end + 1 - pos);
      pos = end == std::string::npos ? all.size() : end + 1;
    }
    couture::write_file_atomic(out / entry["captions"].get<std::string>(), captions);
  }
  manifest["reconstructed_by"] = couture::run_file(o.vqgan, "vqgan.safetensors").string();
  couture::write_file_atomic(out / "dataset.json", manifest.dump(2) + "\n");
  std::printf("wrote %s: %s's images through %s\n", out.c_str(), from.c_str(), o.vqgan.c_str());
}

void recon(const ReconOptions& o) {
  auto model = couture::load_vqgan(couture::run_file(o.vqgan, "vqgan.safetensors"));
  fs::create_directories(o.out);
  int bad = 0;
  for (const auto& path : o.images) {
    couture::Image image;
    try {
      image = couture::read_image(path);
    } catch (const couture::Error& e) {
      std::fprintf(stderr, "couture: skipped %s: %s\n", path.c_str(), e.what());
      ++bad;
      continue;
    }
    const auto r = couture::reconstruct_image(*model, image);
    const fs::path target = fs::path(o.out) / (fs::path(path).stem().string() + ".recon.png");
    couture::write_png(target, couture::tile_images({r.original, r.reconstruction}, 2));
    std::printf("%s -> %s (PSNR %.2f dB, SSIM %.4f)\n", path.c_str(), target.c_str(), r.psnr, r.ssim);
  }
  std::printf("%zu reconstructed, %d skipped\n", o.images.size() - size_t(bad), bad);
  COUTURE_CHECK_INPUT(size_t(bad) < o.images.size(), "no image could be read");
}

}  // namespace

COUTURE_COMMAND("eval vqgan", "PSNR, SSIM, codebook usage and perplexity of a VQGAN on a dataset split") {
  static EvalOptions o;
  cmd.add_option("--vqgan", o.vqgan, "`train vqgan` run folder or vqgan.safetensors")->required();
  cmd.add_option("--dataset", o.dataset, "Prepared dataset folder")->required();
  cmd.add_option("--split", o.split, "Split to evaluate");
  cmd.add_option("--limit", o.limit, "Evaluate the first N images only (0: all)");
  cmd.add_option("--batch", o.batch, "Images per batch")->check(CLI::PositiveNumber);
  cmd.add_option("--grid", o.grid, "Also write 16 originals over their reconstructions to this PNG");
  cmd.add_option("--judge", o.judge, "A `couture train judge` run: also its accuracy on originals vs reconstructions");
  cmd.callback([] { eval_vqgan(o); });
}

COUTURE_COMMAND("vqgan recon", "Reconstruct images through a VQGAN (original beside reconstruction)") {
  static ReconOptions o;
  cmd.add_option("--vqgan", o.vqgan, "`train vqgan` run folder or vqgan.safetensors")->required();
  cmd.add_option("images", o.images, "PNG or JPEG files");
  cmd.add_option("--dataset", o.dataset, "Instead of images: a prepared dataset, written whole to --out");
  cmd.add_option("--limit", o.limit, "With --dataset: the first N records of each split only (0: all)");
  cmd.add_option("--batch", o.batch, "With --dataset: images per batch")->check(CLI::PositiveNumber);
  cmd.add_option("--out", o.out, "Folder for IMAGE.recon.png files, or the new dataset")->required();
  cmd.callback([] {
    COUTURE_CHECK_INPUT(o.dataset.empty() != o.images.empty(), "vqgan recon: give image files or --dataset, not both");
    if (o.dataset.empty()) recon(o);
    else recon_dataset(o);
  });
}
