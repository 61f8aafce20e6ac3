// couture inspect FILE.safetensors: tensors (name, dtype, shape, bytes) and metadata, or why the file is rejected.
#include <cstdio>

#include "command.h"
#include "io/safetensors.h"

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

COUTURE_COMMAND("inspect", "List the tensors and metadata of a safetensors file, or say why it is rejected") {
  static std::string path;
  cmd.add_option("file", path, "A .safetensors file")->required();
  cmd.callback([] {
    auto file = couture::SafetensorsFile::open(path);
    size_t name_width = 6, total = 0;
    for (const auto& t : file.tensors()) name_width = std::max(name_width, t.name.size());
    std::printf("%s: %zu tensors\n", path.c_str(), file.tensors().size());
    std::printf("  %-*s  %-5s  %-22s  %s\n", int(name_width), "tensor", "dtype", "shape", "bytes");
    for (const auto& t : file.tensors()) {
      std::printf("  %-*s  %-5s  %-22s  %zu\n", int(name_width), t.name.c_str(), couture::dtype_name(t.dtype),
                  shape_text(t.shape).c_str(), t.nbytes);
      total += t.nbytes;
    }
    std::printf("  total %zu bytes\n", total);
    if (!file.metadata().empty()) {
      std::printf("metadata:\n");
      for (const auto& [k, v] : file.metadata()) std::printf("  %s: %s\n", k.c_str(), v.c_str());
    }
  });
}
