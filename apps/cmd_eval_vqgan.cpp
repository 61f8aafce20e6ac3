// couture eval vqgan --vqgan RUN --dataset D: PSNR, SSIM, codebook usage and perplexity on a split, as one JSON line
// and a markdown table, plus a grid of originals over reconstructions. With --judge, also how often the judge
// (couture train judge) reads each image's category, colour and print right before and after the VQGAN: what the
// tokenizer keeps of what captions describe.
// couture vqgan recon --vqgan RUN IMAGE... --out DIR: reconstructions of any images, for people to look at.
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"
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
  std::string vqgan, out;
  std::vector<std::string> images;
};

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
  cmd.add_option("images", o.images, "PNG or JPEG files")->required();
  cmd.add_option("--out", o.out, "Folder for IMAGE.recon.png files")->required();
  cmd.callback([] { recon(o); });
}
