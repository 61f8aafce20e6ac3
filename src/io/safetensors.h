// safetensors (https://github.com/huggingface/safetensors) reader and writer, without LibTorch.
// Layout: u64 little-endian header length N, N bytes of JSON header, then the tensor bytes. Validation follows the
// format's own library: N <= 100 MB, valid UTF-8 JSON object, known dtypes, overflow-checked shape x dtype size,
// offsets contiguous from 0 with no gap or overlap, the last one exactly at end of file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/mmap.h"

namespace couture {

enum class DType { F32, F16, BF16, I64, I32, U8, BOOL };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
DType parse_dtype(const std::string& name);  // couture::InputError for an unknown name

// A tensor inside a mapped file (zero-copy) or in memory (for writing).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates a file; couture::InputError naming the file (and tensor) on any problem.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates bytes already in memory; `source` names them in errors. The bytes must outlive the result.
  static SafetensorsFile parse(const uint8_t* data, size_t size, const std::string& source);

  const std::vector<TensorView>& tensors() const { return tensors_; }  // in file order
  const TensorView* find(const std::string& name) const;
  const TensorView& at(const std::string& name) const;  // InputError naming file and tensor when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }
  // Keeps the mapping alive for as long as a zero-copy view of it is used.
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }
  // Done reading this tensor's bytes: the mapped file's pages under it may leave memory (MappedFile::release;
  // read again from the file if touched). Nothing for a file parsed from memory.
  void release(const TensorView& tensor) const;

 private:
  std::string source_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const MappedFile> mapping_;
};

// Writes tensors (widest dtype first, then by name, so each is aligned) and metadata atomically. Refuses duplicate names and sizes that do not match.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// True when every element of a floating-point tensor is finite (integers always are).
bool all_finite(const TensorView& tensor);

}  // namespace couture
