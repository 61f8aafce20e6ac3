// `couture prepare fmnist`: Couture-FMNIST. Fashion-MNIST's garments are colourised (data/fmnist_synth.h) and
// written as real K-Fashion label files + PNG photos under DATASET/source/{labels,images}/{train,test}/, then
// ingested by the same code as `couture prepare kfashion` (split by folder, so Fashion-MNIST's own train/test
// split is kept). Ends with DATASET/samples.png, a grid of training crops. A re-run draws only what is missing,
// also when --limit grows (a smaller --limit removes the garments it no longer chooses).
#pragma once
#include <cstdint>
#include <filesystem>

#include "data/fmnist.h"
#include "data/kfashion_ingest.h"

namespace couture {

struct FmnistOptions {
  std::filesystem::path out_dir;
  std::filesystem::path fmnist_dir = kFashionMnistDir;
  int size = 64;
  int64_t limit = 0;  // garments per split (0: all)
  uint64_t seed = 0;
  int threads = 0;    // 0: couture::threads()
};

struct FmnistReport {
  int64_t written[2] = {0, 0};  // source garments written in this run (train, test)
  int64_t reused[2] = {0, 0};   // already there from an earlier run
  double synth_seconds = 0;
  IngestReport ingest;
  std::filesystem::path samples;  // the grid image
};

FmnistReport prepare_fmnist(const FmnistOptions& options);

}  // namespace couture
