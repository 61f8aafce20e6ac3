// Code shards: the VQGAN codes of a prepared dataset, computed once (`couture encode`) and read by the DALL-E
// trainer. A folder (default D/codes) holds, per split S,
//   S.codes     little-endian: "CTRCODES", u32 version, u32 grid_h, u32 grid_w, u32 n_embed, u64 count, the VQGAN's
//               16-byte fingerprint, zero padding to 64 bytes, then count * grid_h * grid_w uint16 codes (row-major
//               over the grid, records in the dataset's order)
// and codes.json (format, version, the VQGAN file and fingerprint, grid, n_embed, per-split file, count and
// codebook usage). Every file is written atomically; the reader validates everything and names the file.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/mmap.h"

namespace couture {

inline constexpr char kCodesMagic[8] = {'C', 'T', 'R', 'C', 'O', 'D', 'E', 'S'};
inline constexpr uint32_t kCodesVersion = 1;
inline constexpr size_t kCodesHeaderBytes = 64;
inline constexpr const char* kCodesFormat = "couture-codes";

using Fingerprint = std::array<uint8_t, 16>;

// 16 bytes identifying a weights file by its content (two independent 64-bit stable hashes of its bytes).
Fingerprint file_fingerprint(const std::filesystem::path& path);
std::string fingerprint_hex(const Fingerprint& fingerprint);
std::optional<Fingerprint> fingerprint_from_hex(const std::string& hex);

struct CodesHeader {
  uint32_t version = kCodesVersion;
  uint32_t grid_h = 0, grid_w = 0, n_embed = 0;
  uint64_t count = 0;
  Fingerprint fingerprint{};
  size_t codes_per_record() const { return size_t(grid_h) * grid_w; }
};

std::string encode_codes_header(const CodesHeader& header);  // exactly kCodesHeaderBytes
// Checks magic, version, sizes (n_embed fits uint16) and that the file holds exactly the codes the header
// announces; `source` names the file in errors.
CodesHeader decode_codes_header(const uint8_t* data, size_t size, const std::string& source);

// Writes header + codes atomically. codes.size() must be count * grid_h * grid_w, each below n_embed.
void write_code_shard(const std::filesystem::path& path, const CodesHeader& header, const std::vector<uint16_t>& codes);

// One split's codes, memory-mapped.
class CodeShard {
 public:
  // Validates the file (and, when `expected` is given, that it was made by that VQGAN); InputError naming it.
  static CodeShard open(const std::filesystem::path& path, const std::optional<Fingerprint>& expected = std::nullopt);

  const CodesHeader& header() const { return header_; }
  int64_t size() const { return int64_t(header_.count); }
  int64_t codes_per_record() const { return int64_t(header_.codes_per_record()); }
  const uint16_t* codes(int64_t i) const;  // codes_per_record() values
  at::Tensor batch(const std::vector<int64_t>& indices) const;  // [B, grid_h * grid_w] int64
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  CodesHeader header_;
  std::shared_ptr<const MappedFile> file_;
};

// ---- encoding a dataset (`couture encode`, and `couture train dalle` when the codes are missing or stale) ----

// A VQGAN run folder means RUN/vqgan.safetensors; a file is itself. InputError when neither exists.
std::filesystem::path resolve_vqgan_file(const std::filesystem::path& run_or_file);

struct EncodeOptions {
  std::filesystem::path dataset, vqgan;  // vqgan: run folder or weights file
  std::filesystem::path out;             // empty: dataset/codes
  int64_t batch = 64;
  std::string device = "cpu";  // a valid LibTorch device name (check it with parse_device first)
  bool force = false;  // re-encode even when codes made by this VQGAN exist
};

struct EncodeSplitSummary {
  std::string split;
  int64_t count = 0;
  double usage = 0;  // fraction of the codebook used on this split
};

struct EncodeSummary {
  std::filesystem::path out;
  Fingerprint fingerprint{};
  bool reused = false;  // codes.json and every shard matched the VQGAN's fingerprint
  std::vector<EncodeSplitSummary> splits;
  double seconds = 0;
  int64_t images = 0;  // encoded now (0 when reused)
  std::string line() const;  // the one-line summary printed by `couture encode`
};

// Encodes every split of the dataset (train and test) unless codes by this VQGAN already exist there.
EncodeSummary encode_dataset(const EncodeOptions& options);

// True when `dir` holds codes.json and a valid shard for every split of `dataset`, of the split's size, made by
// the VQGAN with `fingerprint`; otherwise false, with the reason in `why`.
bool codes_are_current(const std::filesystem::path& dir, const std::filesystem::path& dataset,
                       const Fingerprint& fingerprint, std::string* why = nullptr);

}  // namespace couture
