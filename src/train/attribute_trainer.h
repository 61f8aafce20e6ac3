// The training both attribute classifiers share, `couture train features` (the VQGAN's perceptual network) and
// `couture train judge` (the evaluation's judge): labels from the training split's records, AdamW with warm-up and
// cosine decay, gradient-norm clip 1, validation accuracy on the first 2000 test records, resumable checkpoints and
// data-parallel ranks as every `couture train`; rank 0 writes RUN/<file> at the end.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "train/attribute_labels.h"
#include "train/settings.h"

namespace couture {

class Dataset;

struct AttributeNetwork {
  std::shared_ptr<torch::nn::Module> module;                 // trained and saved
  std::function<AttributeLogits(const at::Tensor&)> forward;  // images in [-1, 1] -> the three heads
  nlohmann::json model_json;  // run.json's "model" and the weights' metadata "config"
};

struct AttributeTrainSpec {
  std::string command;  // "train judge": run.json and the progress label
  std::string format;   // the weights' metadata "format"
  std::string file;     // RUN/<file>
  double weight_decay = 1e-4;
  // The network for the training split's classes (called after the seed is set, so initialisation is seeded).
  std::function<AttributeNetwork(const AttributeClasses& classes, const Dataset& train)> build;
  // Optional label-preserving augmentation of a training batch; it must draw its randomness from (seed, step, rank)
  // so that a resumed run sees the same batches.
  std::function<at::Tensor(const at::Tensor& images, uint64_t seed, int64_t step, int rank)> augment;
  // Read every test image at the end and store the accuracies in the metadata's "info" (and log them).
  bool final_test = false;
};

void train_attribute_classifier(const TrainSettings& settings, const AttributeTrainSpec& spec);

}  // namespace couture
