// Mini-batches from a prepared dataset for the trainers: a seeded shuffle per epoch (the same order on every
// machine), images as float [B, 3, H, W] in [-1, 1], one of each record's captions chosen by the same generator.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace couture {

struct BatcherOptions {
  int64_t batch_size = 16;
  bool shuffle = true;
  bool drop_last = true;                   // leave out the short final batch of each epoch
  uint64_t seed = 0;
  double short_caption_probability = 0.5;  // chance of the short form ("아우터는 화이트 색상의 재킷이다.")
};

struct Batch {
  at::Tensor images;                  // float [B, 3, H, W] in [-1, 1]
  std::vector<std::string> captions;  // the chosen caption of each record
  at::Tensor indices;                 // int64 [B]: record indices in the split
  int64_t epoch = 0, step = 0;        // where this batch lies in the stream (for resuming)
};

class Batcher {
 public:
  Batcher(Dataset dataset, BatcherOptions options);

  // The next batch, moving to the next epoch (a new permutation) when this one is used up.
  Batch next();
  // Jumps to batch `step` of `epoch` (to resume training exactly where a checkpoint left off).
  void seek(int64_t epoch, int64_t step);

  int64_t batches_per_epoch() const;
  int64_t epoch() const { return epoch_; }
  int64_t step() const { return step_; }
  const Dataset& dataset() const { return dataset_; }
  // The record order of an epoch (a pure function of seed and epoch).
  std::vector<int64_t> permutation(int64_t epoch) const;

 private:
  Dataset dataset_;
  BatcherOptions options_;
  int64_t epoch_ = 0, step_ = 0;
  std::vector<int64_t> order_;
};

// Converts uint8 HWC records to float [B, C, H, W] in [-1, 1].
at::Tensor images_to_tensor(const Dataset& dataset, const std::vector<int64_t>& indices);

}  // namespace couture
