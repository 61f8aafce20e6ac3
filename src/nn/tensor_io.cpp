#include "nn/tensor_io.h"

#include <cstring>
#include <set>

#include "core/error.h"

namespace couture {

namespace {

at::ScalarType scalar_type(DType d) {
  switch (d) {
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
  }
  return at::kFloat;
}

DType dtype_of(at::ScalarType t, const std::string& name) {
  switch (t) {
    case at::kFloat: return DType::F32;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kLong: return DType::I64;
    case at::kInt: return DType::I32;
    case at::kByte: return DType::U8;
    case at::kBool: return DType::BOOL;
    default: throw Error("tensor '" + name + "': dtype " + std::string(c10::toString(t)) + " cannot be saved");
  }
}

std::string shape_text(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

at::Tensor to_tensor(const SafetensorsFile& file, const TensorView& view) {
  auto options = torch::TensorOptions().dtype(scalar_type(view.dtype));
  void* data = const_cast<uint8_t*>(view.data);
  if (view.nbytes == 0) return torch::empty(view.shape, options);
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(view.dtype) != 0 || !file.mapping())
    return torch::from_blob(data, view.shape, options).clone();
  auto keep = file.mapping();
  return torch::from_blob(data, view.shape, [keep](void*) {}, options);
}

at::Tensor load_tensor(const SafetensorsFile& file, const std::string& name) { return to_tensor(file, file.at(name)); }

std::vector<TensorView> views_of(const NamedTensors& tensors) {
  std::vector<TensorView> views;
  for (const auto& [name, t] : tensors) {
    COUTURE_CHECK(t.device().is_cpu() && t.is_contiguous(), "tensor '", name, "' must be a contiguous CPU tensor");
    views.push_back({name, dtype_of(t.scalar_type(), name), t.sizes().vec(),
                     static_cast<const uint8_t*>(t.data_ptr()), size_t(t.numel()) * t.element_size()});
  }
  return views;
}

NamedTensors cpu_contiguous(const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, t.detach().to(torch::kCPU).contiguous());
  return out;
}

void save_tensors(const std::filesystem::path& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata) {
  auto cpu = cpu_contiguous(tensors);
  auto views = views_of(cpu);
  for (const auto& v : views)
    COUTURE_CHECK(all_finite(v), "refusing to write '", path.string(), "': tensor '", v.name, "' is not finite");
  write_safetensors(path, views, metadata);
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(true)) n += p.numel();
  return n;
}

NamedTensors state_dict(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

void load_state_dict(torch::nn::Module& module, const SafetensorsFile& file, const std::string& what) {
  const std::string where = "loading " + what + " from '" + file.source() + "'";
  auto expected = state_dict(module);
  std::set<std::string> expected_names;
  std::vector<std::string> missing;
  for (const auto& [name, t] : expected) {
    expected_names.insert(name);
    if (!file.find(name)) missing.push_back(name);
  }
  std::vector<std::string> unexpected;
  for (const auto& v : file.tensors())
    if (!expected_names.count(v.name)) unexpected.push_back(v.name);
  auto list = [](const std::vector<std::string>& names) {
    std::string out;
    for (size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", '" : "'") + names[i] + "'";
    if (names.size() > 5) out += " and " + std::to_string(names.size() - 5) + " more";
    return out;
  };
  COUTURE_CHECK_INPUT(missing.empty(), where, ": ", missing.size(), " tensor(s) missing: ", list(missing));
  COUTURE_CHECK_INPUT(unexpected.empty(), where, ": ", unexpected.size(), " unexpected tensor(s): ", list(unexpected));
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : expected) {
    const TensorView& v = file.at(name);
    COUTURE_CHECK_INPUT(at::IntArrayRef(v.shape) == t.sizes(), where, ": tensor '", name, "' has shape ",
                        shape_text(v.shape), ", expected ", shape_text(t.sizes()));
    t.copy_(to_tensor(file, v));
    // Copied out: the file's pages need not stay resident beside the weights (peak memory at load).
    file.release(v);
  }
}

Image image_from_tensor(const at::Tensor& chw) {
  auto hwc = ((chw.detach().cpu().to(torch::kFloat).clamp(-1, 1) + 1) * 127.5)
                 .round().to(torch::kByte).permute({1, 2, 0}).contiguous();
  Image img = make_image(int(hwc.size(1)), int(hwc.size(0)), 3);
  std::memcpy(img.pixels.data(), hwc.data_ptr(), img.pixels.size());
  return img;
}

at::Tensor tensor_from_bytes(const at::Tensor& bhwc) {
  COUTURE_CHECK_INPUT(bhwc.dim() == 4 && bhwc.scalar_type() == at::kByte && (bhwc.size(3) == 1 || bhwc.size(3) == 3),
                      "images must be [B,H,W,C] uint8 with C 1 or 3, got ", bhwc.sizes(), " ", bhwc.scalar_type());
  auto x = bhwc.permute({0, 3, 1, 2}).to(at::kFloat).div_(127.5).sub_(1.0);
  if (x.size(1) == 1) x = x.expand({x.size(0), 3, x.size(2), x.size(3)});
  return x.contiguous();
}

at::Tensor tensor_from_image(const Image& image) {
  auto bytes = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {1, image.height, image.width, image.channels},
                                torch::kByte);
  return tensor_from_bytes(bytes)[0];  // a copy: the float conversion does not alias the image
}

std::vector<Image> images_from_batch(const at::Tensor& bchw) {
  std::vector<Image> images;
  images.reserve(size_t(bchw.size(0)));
  for (int64_t i = 0; i < bchw.size(0); ++i) images.push_back(image_from_tensor(bchw[i]));
  return images;
}

}  // namespace couture
