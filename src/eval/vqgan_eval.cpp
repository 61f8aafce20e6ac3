#include "eval/vqgan_eval.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/progress.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "eval/image_metrics.h"
#include "eval/judge_trainer.h"
#include "models/vqgan_quantize.h"
#include "nn/tensor_io.h"

namespace couture {

VqganEvalResult evaluate_vqgan(VQModelImpl& model, const Dataset& split, const LoadedJudge* judge,
                               const VqganEvalOptions& o) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto& cfg = model.config();
  COUTURE_CHECK_INPUT(split.height() == cfg.resolution && split.width() == cfg.resolution, split.dir().string(), ": ",
                      split.width(), "x", split.height(), " images, but the VQGAN was trained at ", cfg.resolution);
  COUTURE_CHECK_INPUT(o.batch > 0, "eval vqgan: the batch must be positive");
  VqganEvalResult r;
  r.images = o.limit > 0 ? std::min(o.limit, split.size()) : split.size();
  COUTURE_CHECK_INPUT(r.images > 0, "eval vqgan: ", split.dir().string(), " ", split.split(), " has no images");
  AttributeLabels labels;
  if (judge) labels = read_attribute_labels(split, &judge->classes);
  r.judged = judge != nullptr;
  CodebookStats stats(cfg.n_embed);
  Progress bar("eval vqgan", r.images, "img");
  for (int64_t start = 0; start < r.images; start += o.batch) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(r.images, start + o.batch); ++i) idx.push_back(i);
    const auto x = images_to_tensor(split, idx);
    const auto enc = model.encode(x);
    const auto rec = model.decode(enc.zq).clamp(-1, 1);
    stats.add(enc.indices);
    if (judge) {
      const auto t = torch::tensor(idx, torch::kLong);
      r.judged_original.add(judge_images(*judge, x).logits, labels, t);
      r.judged_recon.add(judge_images(*judge, rec).logits, labels, t);
    }
    r.psnr += psnr(rec, x).sum().item<double>();
    r.ssim += ssim(rec, x).sum().item<double>();
    r.l1 += (rec - x).abs().mean({1, 2, 3}).sum().item<double>();
    for (int64_t i = 0; i < x.size(0) && int64_t(r.originals.size()) < o.grid_images; ++i) {
      r.originals.push_back(image_from_tensor(x[i]));
      r.reconstructions.push_back(image_from_tensor(rec[i]));
    }
    bar.advance(int64_t(idx.size()));
  }
  bar.finish();
  const double n = double(r.images);
  r.psnr /= n, r.ssim /= n, r.l1 /= n;
  r.codebook_size = cfg.n_embed;
  r.codes_used = stats.used_codes();
  r.codebook_usage = stats.usage();
  r.perplexity = stats.perplexity();
  return r;
}

nlohmann::ordered_json VqganEvalResult::to_json() const {
  nlohmann::ordered_json r = {{"images", images},         {"psnr", psnr},
                              {"ssim", ssim},             {"l1", l1},
                              {"codebook_usage", codebook_usage}, {"codes_used", codes_used},
                              {"codebook_size", codebook_size},   {"perplexity", perplexity}};
  if (judged) {
    r.update(judged_original.to_json("judge_original_"));
    r.update(judged_recon.to_json("judge_recon_"));
  }
  return r;
}

std::string VqganEvalResult::markdown() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "| images | PSNR (dB) | SSIM | L1 | codebook usage | perplexity |\n|---|---|---|---|---|---|\n"
                "| %lld | %.2f | %.4f | %.4f | %.1f%% (%lld of %lld) | %.1f |\n",
                (long long)images, psnr, ssim, l1, 100 * codebook_usage, (long long)codes_used,
                (long long)codebook_size, perplexity);
  std::string out = buf;
  if (judged) {
    out += "\n| the judge reads right | category | colour | print | all three |\n|---|---|---|---|---|\n";
    out += judged_original.markdown_row("originals") + judged_recon.markdown_row("reconstructions");
  }
  return out;
}

Image VqganEvalResult::grid() const {
  std::vector<Image> tiles = originals;
  tiles.insert(tiles.end(), reconstructions.begin(), reconstructions.end());
  return tile_images(tiles, int(std::max<size_t>(originals.size(), 1)));
}

Reconstruction reconstruct_image(VQModelImpl& model, const Image& image) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int side = int(model.config().resolution);
  Reconstruction r;
  const auto x = tensor_from_image(resize_image(image, side, side)).unsqueeze(0);
  r.original = image_from_tensor(x[0]);  // RGB, as the reconstruction
  const auto rec = model.decode(model.encode(x).zq).clamp(-1, 1);
  r.reconstruction = image_from_tensor(rec[0]);
  r.psnr = psnr(rec, x).item<double>();
  r.ssim = ssim(rec, x).item<double>();
  return r;
}

}  // namespace couture
