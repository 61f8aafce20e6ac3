// `couture train judge`: the evaluation's judge (eval/judge.h), trained on the training split's real images to
// tell a garment's category, colour and print. Its accuracy on the real test images is the ceiling that
// `couture eval generate` compares generated designs with.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "eval/judge.h"
#include "train/attribute_labels.h"
#include "train/settings.h"

namespace couture {

void train_judge(const TrainSettings& settings, const JudgeConfig& config);

// RUN/judge.safetensors (or the file itself): the network in eval mode and frozen, its classes, the image size it
// was trained at, and what training reported (metadata "info": test accuracy, steps, dataset).
struct LoadedJudge {
  JudgeNet net{nullptr};
  AttributeClasses classes;
  int image_size = 0;
  nlohmann::json info;
};
std::shared_ptr<LoadedJudge> load_judge(const std::filesystem::path& path);

// The judge's reading of images in [-1, 1] at any size (resized to its own; area when shrinking), in batches of
// 100 without gradients: pooled features [B, D] and the three heads' logits.
struct JudgeReading {
  at::Tensor features;
  AttributeLogits logits;
};
JudgeReading judge_images(const LoadedJudge& judge, const at::Tensor& images);

}  // namespace couture
