// couture eval vqgan --vqgan RUN --dataset D: PSNR, SSIM, codebook usage and perplexity on a split, as one JSON line
// and a markdown table, plus a grid of originals over reconstructions. With --judge, also how often the judge
// (couture train judge) reads each image's category, colour and print right before and after the VQGAN: what the
// tokenizer keeps of what captions describe.
// couture vqgan recon --vqgan RUN IMAGE... --out DIR: reconstructions of any images, for people to look at.
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "core/error.h"
#include "core/progress.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "io/image.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"
#include "pipeline/image_metrics.h"
#include "train/judge_trainer.h"

namespace {
namespace fs = std::filesystem;

fs::path vqgan_file(const std::string& source) {
  return fs::is_directory(source) ? fs::path(source) / "vqgan.safetensors" : fs::path(source);
}

struct EvalOptions {
  std::string vqgan, dataset, split = "test", grid, judge;
  int64_t limit = 0, batch = 64;
};

void eval_vqgan(const EvalOptions& o) {
  torch::NoGradGuard no_grad;
  auto model = couture::load_vqgan(vqgan_file(o.vqgan));
  model->eval();
  const auto data = couture::Dataset::open(o.dataset, o.split);
  const auto& cfg = model->config();
  COUTURE_CHECK_INPUT(data.height() == cfg.resolution && data.width() == cfg.resolution, o.dataset, ": ",
                      data.width(), "x", data.height(), " images, but the VQGAN was trained at ", cfg.resolution);
  const int64_t n = o.limit > 0 ? std::min(o.limit, data.size()) : data.size();
  std::shared_ptr<couture::LoadedJudge> judge;
  couture::AttributeLabels labels;
  couture::AttributeHits judged_original, judged_recon;
  if (!o.judge.empty()) {
    judge = couture::load_judge(o.judge);
    labels = couture::read_attribute_labels(data, &judge->classes);
  }
  couture::CodebookStats stats(cfg.n_embed);
  double psnr_sum = 0, ssim_sum = 0, l1_sum = 0;
  std::vector<couture::Image> originals, recons;
  couture::Progress bar("eval vqgan", n, "img");
  for (int64_t start = 0; start < n; start += o.batch) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(n, start + o.batch); ++i) idx.push_back(i);
    const auto x = couture::images_to_tensor(data, idx);
    const auto enc = model->encode(x);
    const auto rec = model->decode(enc.zq).clamp(-1, 1);
    stats.add(enc.indices);
    if (judge) {
      const auto t = torch::tensor(idx, torch::kLong);
      judged_original.add(couture::judge_images(*judge, x).logits, labels, t);
      judged_recon.add(couture::judge_images(*judge, rec).logits, labels, t);
    }
    psnr_sum += couture::psnr(rec, x).sum().item<double>();
    ssim_sum += couture::ssim(rec, x).sum().item<double>();
    l1_sum += (rec - x).abs().mean({1, 2, 3}).sum().item<double>();
    for (int64_t i = 0; i < x.size(0) && originals.size() < 16; ++i) {
      originals.push_back(couture::image_from_tensor(x[i]));
      recons.push_back(couture::image_from_tensor(rec[i]));
    }
    bar.advance(int64_t(idx.size()));
  }
  bar.finish();
  const double count = double(n);
  nlohmann::ordered_json r = {{"vqgan", vqgan_file(o.vqgan).string()}, {"dataset", o.dataset},
                              {"split", o.split},                     {"images", n},
                              {"psnr", psnr_sum / count},             {"ssim", ssim_sum / count},
                              {"l1", l1_sum / count},                 {"codebook_usage", stats.usage()},
                              {"codes_used", stats.used_codes()},     {"codebook_size", cfg.n_embed},
                              {"perplexity", stats.perplexity()}};
  if (judge) {
    r["judge"] = o.judge;
    r.update(judged_original.to_json("judge_original_"));
    r.update(judged_recon.to_json("judge_recon_"));
  }
  if (!o.grid.empty()) {
    std::vector<couture::Image> tiles = originals;
    tiles.insert(tiles.end(), recons.begin(), recons.end());
    couture::write_png(o.grid, couture::tile_images(tiles, int(originals.size())));
    r["grid"] = o.grid;
  }
  std::printf("%s\n", r.dump().c_str());
  std::printf("| images | PSNR (dB) | SSIM | L1 | codebook usage | perplexity |\n|---|---|---|---|---|---|\n");
  std::printf("| %lld | %.2f | %.4f | %.4f | %.1f%% (%lld of %lld) | %.1f |\n", (long long)n, psnr_sum / count,
              ssim_sum / count, l1_sum / count, 100 * stats.usage(), (long long)stats.used_codes(),
              (long long)cfg.n_embed, stats.perplexity());
  if (judge) {
    std::printf("\n| the judge reads right | category | colour | print | all three |\n|---|---|---|---|---|\n");
    for (const auto& [name, h] : {std::pair{"originals", &judged_original}, std::pair{"reconstructions", &judged_recon}})
      std::printf("| %s | %.3f | %.3f | %.3f | %.3f |\n", name, h->rate(h->category), h->rate(h->colour),
                  h->rate(h->print), h->rate(h->all));
  }
}

struct ReconOptions {
  std::string vqgan, out;
  std::vector<std::string> images;
};

void recon(const ReconOptions& o) {
  torch::NoGradGuard no_grad;
  auto model = couture::load_vqgan(vqgan_file(o.vqgan));
  model->eval();
  const int side = int(model->config().resolution);
  fs::create_directories(o.out);
  int bad = 0;
  for (const auto& path : o.images) {
    couture::Image image;
    try {
      image = couture::resize_image(couture::read_image(path), side, side);
    } catch (const couture::Error& e) {
      std::fprintf(stderr, "couture: skipped %s: %s\n", path.c_str(), e.what());
      ++bad;
      continue;
    }
    const auto x = torch::from_blob(image.pixels.data(), {1, side, side, 3}, torch::kByte)
                       .permute({0, 3, 1, 2})
                       .to(torch::kFloat)
                       .div(127.5)
                       .sub(1);
    const auto enc = model->encode(x);
    const auto rec = model->decode(enc.zq).clamp(-1, 1);
    const fs::path target = fs::path(o.out) / (fs::path(path).stem().string() + ".recon.png");
    couture::write_png(target, couture::tile_images({image, couture::image_from_tensor(rec[0])}, 2));
    std::printf("%s -> %s (PSNR %.2f dB, SSIM %.4f)\n", path.c_str(), target.c_str(),
                couture::psnr(rec, x).item<double>(), couture::ssim(rec, x).item<double>());
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
