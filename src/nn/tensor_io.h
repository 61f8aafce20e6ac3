// The bridge between safetensors records and LibTorch: zero-copy tensors that keep the mapping alive, state dicts
// written as safetensors, and loading a module by name with a full key-set and shape check.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/image.h"
#include "io/safetensors.h"

namespace torch::nn {
class Module;
}

namespace couture {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// A CPU tensor over the file's bytes (copy-on-write mapping; copied only when misaligned).
at::Tensor to_tensor(const SafetensorsFile& file, const TensorView& view);
at::Tensor load_tensor(const SafetensorsFile& file, const std::string& name);  // InputError naming it if absent

// Views of contiguous CPU tensors, valid while `tensors` lives. Non-contiguous or non-CPU tensors are refused.
std::vector<TensorView> views_of(const NamedTensors& tensors);
// Contiguous CPU copies in declaration order, suitable for views_of.
NamedTensors cpu_contiguous(const NamedTensors& tensors);

void save_tensors(const std::filesystem::path& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {});

// Number of parameters (all, trainable or not), as PyTorch's sum(p.numel() for p in m.parameters()).
int64_t parameter_count(const torch::nn::Module& module);

// Parameters and buffers by their PyTorch names.
NamedTensors state_dict(const torch::nn::Module& module);

// Copies every parameter and buffer of `module` from `file`, by name. Refuses missing keys, unexpected keys and
// shape mismatches with a message naming `what`, the file and the tensor. Dtypes are converted.
void load_state_dict(torch::nn::Module& module, const SafetensorsFile& file, const std::string& what);

// Pictures from model outputs: [3,H,W] (or [B,3,H,W]) float in [-1,1] -> 8-bit RGB, clamped and rounded.
Image image_from_tensor(const at::Tensor& chw);
std::vector<Image> images_from_batch(const at::Tensor& bchw);

// And back, what every model takes: 8-bit pixels -> float in [-1,1], channels first, grey repeated to RGB.
// bytes [B,H,W,C] uint8 (C 1 or 3) -> [B,3,H,W]; an image -> [3,H,W]. InputError on other channel counts.
at::Tensor tensor_from_bytes(const at::Tensor& bhwc);
at::Tensor tensor_from_image(const Image& image);

}  // namespace couture
