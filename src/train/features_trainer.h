// `couture train features`: Couture's own perceptual network (models/vqgan_loss.h FeatureNet), trained to tell a
// garment's category, colour and print from its image. The VQGAN's perceptual loss uses its features when no
// LPIPS-VGG weights are at hand (ImageNet VGG16 cannot be downloaded here).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "models/vqgan_loss.h"
#include "train/attribute_labels.h"
#include "train/settings.h"

namespace couture {

void train_features(const TrainSettings& settings);

// RUN/features.safetensors (or a file): the network with its config and classes, in eval mode and frozen.
struct LoadedFeatureNet {
  FeatureNet net{nullptr};
  AttributeClasses classes;
};
std::shared_ptr<LoadedFeatureNet> load_feature_net(const std::filesystem::path& path);

}  // namespace couture
