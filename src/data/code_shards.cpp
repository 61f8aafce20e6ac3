#include "data/code_shards.h"

#include <chrono>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/stable_hash.h"
#include "models/vqgan.h"

namespace couture {
namespace fs = std::filesystem;
namespace {

template <typename T>
void put(std::string& out, T value) {  // little-endian (the only byte order LibTorch builds here use)
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T get(const uint8_t* data, size_t offset) {
  T value;
  std::memcpy(&value, data + offset, sizeof(T));
  return value;
}

}  // namespace

// ---- fingerprints ----

Fingerprint file_fingerprint(const fs::path& path) {
  auto file = MappedFile::open(path);
  std::string_view bytes(reinterpret_cast<const char*>(file->data()), file->size());
  // The whole-file hash, and a second one chained over 1 MiB chunks with the size mixed in: independent enough
  // that a collision of both is not a concern for telling two VQGANs apart.
  uint64_t whole = stable_hash(bytes), chained = stable_hash(std::to_string(bytes.size()));
  constexpr size_t kChunk = size_t(1) << 20;
  for (size_t at = 0; at < bytes.size(); at += kChunk) {
    uint64_t h = stable_hash(bytes.substr(at, kChunk));
    std::string pair(16, '\0');
    std::memcpy(pair.data(), &chained, 8);
    std::memcpy(pair.data() + 8, &h, 8);
    chained = stable_hash(pair);
  }
  Fingerprint f;
  std::memcpy(f.data(), &whole, 8);
  std::memcpy(f.data() + 8, &chained, 8);
  return f;
}

std::string fingerprint_hex(const Fingerprint& f) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : f) hex += digits[b >> 4], hex += digits[b & 15];
  return hex;
}

std::optional<Fingerprint> fingerprint_from_hex(const std::string& hex) {
  if (hex.size() != 32) return std::nullopt;
  Fingerprint f;
  for (size_t i = 0; i < 16; ++i) {
    int v = 0;
    for (char c : hex.substr(2 * i, 2)) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    f[i] = uint8_t(v);
  }
  return f;
}

// ---- the shard file ----

std::string encode_codes_header(const CodesHeader& h) {
  std::string out(kCodesMagic, sizeof(kCodesMagic));
  put(out, h.version);
  put(out, h.grid_h);
  put(out, h.grid_w);
  put(out, h.n_embed);
  put(out, h.count);
  out.append(reinterpret_cast<const char*>(h.fingerprint.data()), h.fingerprint.size());
  out.resize(kCodesHeaderBytes, '\0');
  return out;
}

CodesHeader decode_codes_header(const uint8_t* data, size_t size, const std::string& source) {
  COUTURE_CHECK_INPUT(size >= kCodesHeaderBytes, "'", source, "' is truncated: ", size,
                      " bytes, shorter than the ", kCodesHeaderBytes, "-byte code shard header");
  COUTURE_CHECK_INPUT(std::memcmp(data, kCodesMagic, sizeof(kCodesMagic)) == 0, "'", source,
                      "' is not a code shard (wrong magic; expected \"CTRCODES\", written by couture encode)");
  CodesHeader h;
  h.version = get<uint32_t>(data, 8);
  h.grid_h = get<uint32_t>(data, 12);
  h.grid_w = get<uint32_t>(data, 16);
  h.n_embed = get<uint32_t>(data, 20);
  h.count = get<uint64_t>(data, 24);
  std::memcpy(h.fingerprint.data(), data + 32, h.fingerprint.size());
  COUTURE_CHECK_INPUT(h.version == kCodesVersion, "'", source, "' has code shard version ", h.version,
                      "; this build reads version ", kCodesVersion, " (run couture encode again)");
  COUTURE_CHECK_INPUT(h.grid_h > 0 && h.grid_w > 0 && h.grid_h <= 4096 && h.grid_w <= 4096, "'", source,
                      "' has an invalid code grid ", h.grid_h, "x", h.grid_w);
  COUTURE_CHECK_INPUT(h.n_embed > 0 && h.n_embed <= 65536, "'", source, "' has an invalid codebook size ",
                      h.n_embed, " (1..65536 fit uint16 codes)");
  const uint64_t per_record_bytes = uint64_t(h.codes_per_record()) * 2;
  COUTURE_CHECK_INPUT(h.count <= (std::numeric_limits<uint64_t>::max() - kCodesHeaderBytes) / per_record_bytes,
                      "'", source, "' announces an impossible record count ", h.count);
  const uint64_t expected = kCodesHeaderBytes + h.count * per_record_bytes;
  COUTURE_CHECK_INPUT(size == expected, "'", source, "' is ", size < expected ? "truncated" : "too long", ": ",
                      size, " bytes, the header announces ", h.count, " records of ", h.grid_h, "x", h.grid_w,
                      " codes (", expected, " bytes)");
  return h;
}

void write_code_shard(const fs::path& path, const CodesHeader& header, const std::vector<uint16_t>& codes) {
  COUTURE_CHECK(codes.size() == header.count * header.codes_per_record(), "write_code_shard: ", codes.size(),
                " codes for ", header.count, " records of ", header.codes_per_record());
  for (uint16_t c : codes) COUTURE_CHECK(c < header.n_embed, "write_code_shard: code ", c, " >= n_embed ", header.n_embed);
  const std::string head = encode_codes_header(header);
  write_file_atomic(path, [&](const std::function<void(const void*, size_t)>& sink) {
    sink(head.data(), head.size());
    sink(codes.data(), codes.size() * sizeof(uint16_t));
  });
}

CodeShard CodeShard::open(const fs::path& path, const std::optional<Fingerprint>& expected) {
  CodeShard shard;
  shard.path_ = path;
  shard.file_ = MappedFile::open(path);
  shard.header_ = decode_codes_header(shard.file_->data(), shard.file_->size(), path.string());
  if (expected) {
    COUTURE_CHECK_INPUT(shard.header_.fingerprint == *expected, "'", path.string(),
                        "' was encoded by another VQGAN (fingerprint ", fingerprint_hex(shard.header_.fingerprint),
                        ", expected ", fingerprint_hex(*expected), "); run couture encode again");
  }
  // Codes are checked once here, so batches never index past the DALL-E image embedding.
  const uint16_t* all = shard.codes(0);
  const size_t n = shard.header_.count * shard.header_.codes_per_record();
  for (size_t i = 0; i < n; ++i)
    COUTURE_CHECK_INPUT(all[i] < shard.header_.n_embed, "'", path.string(), "' holds code ", all[i], " at record ",
                        i / shard.header_.codes_per_record(), ", outside its codebook of ", shard.header_.n_embed);
  return shard;
}

const uint16_t* CodeShard::codes(int64_t i) const {
  COUTURE_CHECK(i >= 0 && (i < size() || (i == 0 && size() == 0)), "code shard '", path_.string(), "': record ", i,
                " out of range (", size(), " records)");
  // The 64-byte header keeps the codes 2-byte aligned (mappings are page aligned).
  return reinterpret_cast<const uint16_t*>(file_->data() + kCodesHeaderBytes) + size_t(i) * header_.codes_per_record();
}

at::Tensor CodeShard::batch(const std::vector<int64_t>& indices) const {
  const int64_t per = codes_per_record();
  auto out = at::empty({int64_t(indices.size()), per}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  for (size_t b = 0; b < indices.size(); ++b) {
    const uint16_t* src = codes(indices[b]);
    for (int64_t j = 0; j < per; ++j) dst[int64_t(b) * per + j] = src[j];
  }
  return out;
}

// ---- encoding ----

fs::path resolve_vqgan_file(const fs::path& run_or_file) {
  return run_file(run_or_file, "vqgan.safetensors");
}

bool codes_are_current(const fs::path& dir, const fs::path& dataset, const Fingerprint& fingerprint,
                       std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  const fs::path index = dir / "codes.json";
  if (!fs::exists(index)) return fail("no " + index.string());
  const nlohmann::json j = read_json_file_or_null(index);
  if (!j.is_object() || j.value("format", "") != kCodesFormat) return fail(index.string() + " is not a codes index");
  if (j.value("fingerprint", "") != fingerprint_hex(fingerprint))
    return fail("the codes in " + dir.string() + " were made by another VQGAN (" + j.value("vqgan", "?") + ")");
  for (const auto& split : dataset_splits(dataset)) {
    const fs::path file = dir / (split + ".codes");
    try {
      auto shard = CodeShard::open(file, fingerprint);
      if (shard.size() != Dataset::open(dataset, split).size())
        return fail(file.string() + " holds " + std::to_string(shard.size()) + " records, the dataset's " + split +
                    " split has another count");
    } catch (const Error& e) {
      return fail(e.what());
    }
  }
  return true;
}

std::string EncodeSummary::line() const {
  std::ostringstream s;
  s << "encode: " << (reused ? "reused " : "wrote ") << out.string() << ":";
  for (const auto& sp : splits) {
    s << " " << sp.split << " " << sp.count << " images";
    if (!reused) s << " (codebook usage " << int(sp.usage * 1000 + 0.5) / 10.0 << "%)";
    s << ",";
  }
  s << " " << int(seconds * 10 + 0.5) / 10.0 << " s";
  if (images > 0 && seconds > 0) s << ", " << int(double(images) / seconds + 0.5) << " images/s";
  s << " (VQGAN " << fingerprint_hex(fingerprint).substr(0, 12) << ")";
  return s.str();
}

EncodeSummary encode_dataset(const EncodeOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  COUTURE_CHECK_INPUT(o.batch > 0, "--batch must be positive, got ", o.batch);
  EncodeSummary summary;
  summary.out = o.out.empty() ? o.dataset / "codes" : o.out;
  const fs::path weights = resolve_vqgan_file(o.vqgan);
  summary.fingerprint = file_fingerprint(weights);
  const auto splits = dataset_splits(o.dataset);
  std::string why;
  if (!o.force && codes_are_current(summary.out, o.dataset, summary.fingerprint, &why)) {
    summary.reused = true;
    for (const auto& split : splits)
      summary.splits.push_back({split, CodeShard::open(summary.out / (split + ".codes")).size(), 0.0});
    log::info("encode: codes in " + summary.out.string() + " were made by this VQGAN; reusing them");
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
  }
  if (fs::exists(summary.out / "codes.json")) log::info("encode: re-encoding: " + why);

  VQModel model = load_vqgan(weights);
  const c10::Device device(o.device);  // callers validate the name (train/settings.h parse_device)
  model->to(device);
  model->eval();
  const auto& c = model->config();
  COUTURE_CHECK_INPUT(c.n_embed <= 65536, "VQGAN '", weights.string(), "' has ", c.n_embed,
                      " codes; code shards hold uint16 (at most 65536)");
  fs::create_directories(summary.out);
  nlohmann::ordered_json index = {{"format", kCodesFormat},
                                  {"version", kCodesVersion},
                                  {"vqgan", fs::absolute(weights).lexically_normal().string()},
                                  {"fingerprint", fingerprint_hex(summary.fingerprint)},
                                  {"n_embed", c.n_embed},
                                  {"splits", nlohmann::ordered_json::object()}};
  torch::NoGradGuard no_grad;
  for (const auto& split : splits) {
    Dataset data = Dataset::open(o.dataset, split);
    COUTURE_CHECK_INPUT(data.height() == c.resolution && data.width() == c.resolution, "dataset '",
                        o.dataset.string(), "' holds ", data.width(), "x", data.height(), " images but VQGAN '",
                        weights.string(), "' was made for ", c.resolution, "x", c.resolution);
    CodesHeader header;
    header.n_embed = uint32_t(c.n_embed);
    header.count = uint64_t(data.size());
    header.fingerprint = summary.fingerprint;
    std::vector<uint16_t> codes;
    CodebookStats stats(c.n_embed);
    Progress progress("encode " + split, data.size(), "images");
    for (int64_t begin = 0; begin < data.size(); begin += o.batch) {
      std::vector<int64_t> idx;
      for (int64_t i = begin; i < std::min(data.size(), begin + o.batch); ++i) idx.push_back(i);
      auto enc = model->encode(images_to_tensor(data, idx).to(device));
      header.grid_h = uint32_t(enc.h.size(2)), header.grid_w = uint32_t(enc.h.size(3));
      auto ids = enc.indices.to(at::kCPU).to(at::kInt).contiguous();
      stats.add(enc.indices);
      const int32_t* p = ids.data_ptr<int32_t>();
      for (int64_t k = 0; k < ids.numel(); ++k) codes.push_back(uint16_t(p[k]));
      progress.advance(int64_t(idx.size()));
    }
    progress.finish();
    if (header.grid_h == 0) header.grid_h = header.grid_w = uint32_t(c.grid_size());  // an empty split
    write_code_shard(summary.out / (split + ".codes"), header, codes);
    summary.splits.push_back({split, data.size(), stats.usage()});
    summary.images += data.size();
    index["grid"] = {header.grid_h, header.grid_w};
    index["splits"][split] = {{"file", split + ".codes"}, {"count", data.size()},
                              {"codebook_usage", stats.usage()}, {"codebook_perplexity", stats.perplexity()}};
  }
  // The index last: a run stopped half-way leaves no codes.json claiming the new VQGAN.
  write_file_atomic(summary.out / "codes.json", index.dump(2) + "\n");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace couture
