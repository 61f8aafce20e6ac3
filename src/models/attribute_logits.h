// A garment's three labelled attributes as logits: category (카테고리), colour (색상) and print (프린트). Produced by
// the VQGAN's perceptual network (FeatureNet, models/vqgan_loss.h) and by the evaluation's judge (eval/judge.h).
#pragma once
#include <ATen/core/Tensor.h>

namespace couture {

struct AttributeLogits {
  at::Tensor category, colour, print;  // [B, n] each (undefined where a head is absent)
};

}  // namespace couture
