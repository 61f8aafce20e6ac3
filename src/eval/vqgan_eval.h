// How much of an image a VQGAN keeps: PSNR, SSIM, L1, codebook usage and perplexity on a dataset split, and, with a
// judge (`couture train judge`), how often the judge reads each image's category, colour and print right before and
// after the round trip: what the tokenizer keeps of what captions describe. `couture eval vqgan` prints it.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/image.h"
#include "models/vqgan.h"
#include "train/attribute_labels.h"

namespace couture {

class Dataset;
struct LoadedJudge;

struct VqganEvalOptions {
  int64_t limit = 0;  // the first N images of the split (0: all)
  int64_t batch = 64;
  int64_t grid_images = 16;  // originals and reconstructions kept for a picture
};

struct VqganEvalResult {
  int64_t images = 0, codebook_size = 0, codes_used = 0;
  double psnr = 0, ssim = 0, l1 = 0, codebook_usage = 0, perplexity = 0;
  bool judged = false;
  AttributeHits judged_original, judged_recon;
  std::vector<Image> originals, reconstructions;  // the first grid_images of each

  nlohmann::ordered_json to_json() const;  // psnr, ssim, l1, codebook_usage, ..., judge_original_*, judge_recon_*
  std::string markdown() const;            // the figures table, and the judge's table when judged
  Image grid() const;                      // originals over their reconstructions
};

// `judge` may be null. InputError when the split's images are not the VQGAN's resolution.
VqganEvalResult evaluate_vqgan(VQModelImpl& model, const Dataset& split, const LoadedJudge* judge,
                               const VqganEvalOptions& options = {});

// One picture through the VQGAN, resized to its resolution: the reconstruction and how close it is.
struct Reconstruction {
  Image original, reconstruction;
  double psnr = 0, ssim = 0;
};
Reconstruction reconstruct_image(VQModelImpl& model, const Image& image);

}  // namespace couture
