#include "io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace couture {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // as the reference library

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Entries of one tensor record; errors name the tensor.
Entry parse_entry(const std::string& source, const std::string& name, const nlohmann::json& info) {
  auto bad = [&](const std::string& why) { return InputError("'" + source + "': tensor '" + name + "': " + why); };
  if (!info.is_object()) throw bad("record is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!info.contains(key)) throw bad(std::string("missing '") + key + "'");
  if (!info["dtype"].is_string()) throw bad("'dtype' is not a string");
  Entry e;
  e.name = name;
  try {
    e.dtype = parse_dtype(info["dtype"].get<std::string>());
  } catch (const InputError& err) {
    throw bad(err.what());
  }
  const auto& shape = info["shape"];
  if (!shape.is_array()) throw bad("'shape' is not an array");
  uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) throw bad("'shape' holds a value that is not a non-negative integer");
    uint64_t v = d.get<uint64_t>();
    if (v > uint64_t(INT64_MAX) || (v != 0 && numel > UINT64_MAX / v)) throw bad("shape overflows");
    numel *= v;
    e.shape.push_back(static_cast<int64_t>(v));
  }
  const auto& off = info["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    throw bad("'data_offsets' is not two non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin) throw bad("data_offsets end before they begin");
  uint64_t size = dtype_size(e.dtype);
  if (numel > UINT64_MAX / size) throw bad("shape x dtype size overflows");
  if (numel * size != e.end - e.begin)
    throw bad("shape " + shape.dump() + " of " + dtype_name(e.dtype) + " needs " + std::to_string(numel * size) +
              " bytes but data_offsets span " + std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::U8: case DType::BOOL: return 1;
  }
  return 1;
}

DType parse_dtype(const std::string& name) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8, DType::BOOL})
    if (name == dtype_name(d)) return d;
  throw InputError("unknown or unsupported dtype '" + name + "' (supported: F32, F16, BF16, I64, I32, U8, BOOL)");
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  auto mapping = MappedFile::open(path);
  SafetensorsFile file = parse(mapping->data(), mapping->size(), path.string());
  file.mapping_ = std::move(mapping);
  return file;
}

SafetensorsFile SafetensorsFile::parse(const uint8_t* data, size_t size, const std::string& source) {
  auto bad = [&](const std::string& why) { return InputError("'" + source + "': " + why); };
  if (size < 8) throw bad("not a safetensors file: " + std::to_string(size) + " bytes, shorter than the header length");
  uint64_t n = read_u64_le(data);
  if (n > kMaxHeader) throw bad("header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8) throw bad("truncated: header of " + std::to_string(n) + " bytes but the file has " +
                              std::to_string(size - 8) + " after the length");
  if (n < 2 || data[8] != '{') throw bad("header is not a JSON object");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("header is not valid UTF-8 JSON: ") + e.what());
  }
  if (!header.is_object()) throw bad("header is not a JSON object");

  SafetensorsFile file;
  file.source_ = source;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw bad("'__metadata__' is not an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw bad("'__metadata__' entry '" + m.key() + "' is not a string");
        file.metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(source, it.key(), *it));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_size = size - 8 - n;
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    if (e.begin != expected)
      throw bad("tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] " + (e.begin < expected ? "overlap the previous tensor" : "leave a gap after the previous tensor") +
                " (expected to start at " + std::to_string(expected) + ")");
    expected = e.end;
  }
  if (expected != data_size) {
    std::string last = entries.empty() ? "" : " after tensor '" + entries.back().name + "'";
    throw bad(expected > data_size ? "truncated: tensors need " + std::to_string(expected) + " data bytes but the file has " +
                                         std::to_string(data_size) + last
                                   : "trailing bytes: " + std::to_string(data_size - expected) +
                                         " bytes after the last tensor" + last);
  }
  const uint8_t* base = data + 8 + n;
  for (Entry& e : entries)
    file.tensors_.push_back({e.name, e.dtype, std::move(e.shape), base + e.begin, size_t(e.end - e.begin)});
  return file;
}

void SafetensorsFile::release(const TensorView& tensor) const {
  if (mapping_) mapping_->release(tensor.data, tensor.nbytes);
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorView& SafetensorsFile::at(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) throw InputError("'" + source_ + "': tensor '" + name + "' is missing");
  return *t;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorView*> order;
  for (const auto& t : tensors) order.push_back(&t);
  // Widest dtypes first, then by name (as the reference writer): every tensor stays aligned to its element size.
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const TensorView* t : order) {
    COUTURE_CHECK(t->name != "__metadata__" && seen.insert(t->name).second, "writing '", path.string(),
                  "': duplicate or reserved tensor name '", t->name, "'");
    COUTURE_CHECK(uint64_t(t->numel()) * dtype_size(t->dtype) == t->nbytes, "writing '", path.string(), "': tensor '",
                  t->name, "' has ", t->nbytes, " bytes, its shape needs ", t->numel() * dtype_size(t->dtype));
    header[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the tensor data 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
  write_file_atomic(path, [&](const auto& sink) {
    sink(len, 8);
    sink(text.data(), text.size());
    for (const TensorView* t : order) sink(t->data, t->nbytes);
  });
}

bool all_finite(const TensorView& t) {
  // On the bit patterns, branch-free within a block so that the compiler can vectorise it: the check runs over every
  // weight of a bundle when it loads.
  const size_t n = size_t(t.numel());
  auto scan = [&](auto zero, auto exp_mask) {
    using Bits = decltype(zero);
    constexpr size_t kBlock = 4096;
    for (size_t start = 0; start < n; start += kBlock) {
      const size_t end = std::min(n, start + kBlock);
      Bits bad = 0;
      for (size_t i = start; i < end; ++i) {
        Bits v;
        std::memcpy(&v, t.data + sizeof(Bits) * i, sizeof(Bits));
        bad |= Bits((v & exp_mask) == exp_mask);
      }
      if (bad) return false;
    }
    return true;
  };
  switch (t.dtype) {
    case DType::F32: return scan(uint32_t(0), uint32_t(0x7F800000u));
    case DType::F16: return scan(uint16_t(0), uint16_t(0x7C00u));
    case DType::BF16: return scan(uint16_t(0), uint16_t(0x7F80u));
    default: return true;
  }
}

}  // namespace couture
