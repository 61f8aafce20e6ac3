// Memory mapping of a whole file, private copy-on-write (writes never reach the file, and never fault). Shared so that zero-copy views (tensors, image records) keep it alive.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace couture {

class MappedFile {
 public:
  // Maps `path` read-only; couture::InputError naming the file when it cannot be opened.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Lets the kernel drop the whole pages inside [begin, begin + n) from memory (madvise MADV_DONTNEED): they stay
  // readable, read again from the file when touched, so the resident size stops counting bytes already copied out
  // (a 1.3 GB DALL-E loaded into bf16 weights would otherwise hold both). Bytes written through the mapping there
  // are lost: only for ranges that are read, never written. A range outside the mapping is ignored.
  void release(const uint8_t* begin, size_t n) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace couture
