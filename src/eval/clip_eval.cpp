#include "eval/clip_eval.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/batcher.h"
#include "text/caption.h"

namespace couture {
namespace {

std::vector<std::string> values_of(const nlohmann::ordered_json& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_array())
    for (const auto& x : v)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

const nlohmann::ordered_json* attribute_json(const DatasetRecord& r, const std::string& attribute) {
  if (!r.attributes.is_object() || !r.attributes.contains(r.main_part)) return nullptr;
  const auto& part = r.attributes.at(r.main_part);
  if (!part.is_object() || !part.contains(attribute)) return nullptr;
  return &part.at(attribute);
}

const char* english_name(const std::string& attribute) {
  if (attribute == "색상") return "colour";
  if (attribute == "카테고리") return "category";
  if (attribute == "프린트") return "print";
  return "attribute";
}

std::string format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::optional<CaptionVariants> attribute_variants(const DatasetRecord& record, const std::string& attribute,
                                                  const std::vector<std::string>& values,
                                                  const std::map<std::string, std::string>& part_of_value) {
  const auto* v = attribute_json(record, attribute);
  if (!v || record.captions.empty()) return std::nullopt;
  const std::string& caption = record.captions[0];
  kfashion::Attribute truth{attribute, values_of(*v), kfashion::is_list_attribute(attribute)};
  if (truth.values.empty()) return std::nullopt;
  // The caption was written in one of the two compat modes; find the sentence it holds.
  std::string sentence;
  size_t at = std::string::npos;
  for (auto compat : {kfashion::CaptionCompat::couture, kfashion::CaptionCompat::kodalle}) {
    sentence = kfashion::attribute_sentence(record.main_part, truth, compat);
    at = sentence.empty() ? std::string::npos : caption.find(sentence);
    if (at != std::string::npos) break;
  }
  if (at == std::string::npos) return std::nullopt;
  CaptionVariants out;
  out.captions.push_back(caption);
  out.values.push_back(truth.values.back());
  for (const auto& value : values) {
    if (std::find(truth.values.begin(), truth.values.end(), value) != truth.values.end()) continue;
    kfashion::Attribute other{attribute, {value}, truth.is_list};
    std::string variant = caption;
    variant.replace(at, sentence.size(), kfashion::attribute_sentence(record.main_part, other,
                                                                      kfashion::CaptionCompat::couture));
    // A value that belongs to another part (a dress is never a 상의) moves every sentence to that part, or the part
    // name alone would give the answer away.
    if (auto it = part_of_value.find(value); it != part_of_value.end() && it->second != record.main_part) {
      const std::string from = record.main_part + "에서", to = it->second + "에서";
      for (size_t pos = 0; (pos = variant.find(from, pos)) != std::string::npos; pos += to.size())
        variant.replace(pos, from.size(), to);
    }
    out.captions.push_back(std::move(variant));
    out.values.push_back(value);
  }
  return out;
}

ClipEvalResult evaluate_clip(const ClipScorer& scorer, const Dataset& split, const ClipEvalOptions& o) {
  COUTURE_CHECK_INPUT(o.group >= 2, "eval clip: groups need at least 2 candidates");
  const auto started = std::chrono::steady_clock::now();
  ClipEvalResult r;
  r.group = o.group;
  const int64_t n = o.limit > 0 ? std::min(o.limit, split.size()) : split.size();
  COUTURE_CHECK_INPUT(n >= 2, "eval clip: dataset '", split.dir().string(), "' ", split.split(), " has ", split.size(),
                      " records; at least 2 are needed");
  std::vector<DatasetRecord> records;
  records.reserve(size_t(split.size()));
  // Attribute values come from the whole split, so a --limit does not shrink the variant sets.
  std::vector<std::set<std::string>> value_sets(o.attributes.size());
  std::map<std::string, std::string> part_of_category;  // category -> the part it is worn as
  for (int64_t i = 0; i < split.size(); ++i) {
    auto rec = split.record(i);
    if (!rec.category.empty() && !rec.main_part.empty()) part_of_category.emplace(rec.category, rec.main_part);
    for (size_t a = 0; a < o.attributes.size(); ++a)
      if (const auto* v = attribute_json(rec, o.attributes[a]))
        for (auto& x : values_of(*v)) value_sets[a].insert(x);
    if (i < n) records.push_back(std::move(rec));
  }
  for (const auto& rec : records)
    COUTURE_CHECK_INPUT(!rec.captions.empty(), "eval clip: dataset '", split.dir().string(), "' record ", rec.index,
                        " has no caption");

  Progress progress("eval clip", n * int64_t(1 + o.attributes.size()));
  // Retrieval in groups.
  int64_t hits[4] = {0, 0, 0, 0};
  for (int64_t start = 0; start < n; start += o.group) {
    const int64_t end = std::min(n, start + o.group);
    if (end - start < 2) break;  // a lone record has nothing to be confused with
    std::vector<int64_t> idx;
    std::vector<std::string> captions;
    for (int64_t i = start; i < end; ++i) {
      idx.push_back(i);
      captions.push_back(records[size_t(i)].captions[0]);
    }
    auto sim = scorer.similarity(scorer.encode_texts(captions), scorer.encode_images(images_to_tensor(split, idx)));
    const int64_t m = sim.size(0), k = std::min<int64_t>(5, m);
    auto target = at::arange(m, at::kLong).unsqueeze(1);
    auto t2i = std::get<1>(sim.topk(k, 1)), i2t = std::get<1>(sim.t().topk(k, 1));
    hits[0] += t2i.narrow(1, 0, 1).eq(target).sum().item<int64_t>();
    hits[1] += t2i.eq(target).any(1).sum().item<int64_t>();
    hits[2] += i2t.narrow(1, 0, 1).eq(target).sum().item<int64_t>();
    hits[3] += i2t.eq(target).any(1).sum().item<int64_t>();
    r.chance_r1 += 1.0;  // m records at 1/m each
    r.chance_r5 += double(k);
    r.records += m;
    ++r.groups;
    progress.advance(m);
  }
  const double nr = double(std::max<int64_t>(r.records, 1));
  r.t2i_r1 = double(hits[0]) / nr, r.t2i_r5 = double(hits[1]) / nr;
  r.i2t_r1 = double(hits[2]) / nr, r.i2t_r5 = double(hits[3]) / nr;
  r.chance_r1 /= nr, r.chance_r5 /= nr;

  // Attribute variants, one image at a time against its own variant captions (images encoded in batches).
  for (size_t a = 0; a < o.attributes.size(); ++a) {
    AttributeAccuracy acc;
    acc.attribute = o.attributes[a];
    acc.name = english_name(acc.attribute);
    std::vector<std::string> values(value_sets[a].begin(), value_sets[a].end());
    acc.values = int64_t(values.size());
    for (int64_t start = 0; start < n; start += 64) {
      const int64_t end = std::min(n, start + 64);
      std::vector<int64_t> idx;
      std::vector<CaptionVariants> variants;
      for (int64_t i = start; i < end; ++i) {
        auto v = attribute_variants(records[size_t(i)], acc.attribute, values,
                                    acc.attribute == "카테고리" ? part_of_category : std::map<std::string, std::string>{});
        if (!v || v->captions.size() < 2) {
          ++acc.skipped;
          continue;
        }
        idx.push_back(i);
        variants.push_back(std::move(*v));
      }
      if (!idx.empty()) {
        auto images = scorer.encode_images(images_to_tensor(split, idx));
        for (size_t j = 0; j < idx.size(); ++j) {
          auto scores = scorer.similarity(scorer.encode_texts(variants[j].captions), images.narrow(0, int64_t(j), 1));
          acc.correct += scores.squeeze(1).argmax().item<int64_t>() == 0;
          acc.chance += 1.0 / double(variants[j].captions.size());
          ++acc.evaluated;
        }
      }
      progress.advance(end - start);
    }
    if (acc.evaluated) acc.chance /= double(acc.evaluated);
    r.attributes.push_back(acc);
  }
  progress.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

nlohmann::ordered_json ClipEvalResult::to_json() const {
  nlohmann::ordered_json j;
  j["records"] = records;
  j["groups"] = groups;
  j["group"] = group;
  j["t2i_recall1"] = t2i_r1;
  j["t2i_recall5"] = t2i_r5;
  j["i2t_recall1"] = i2t_r1;
  j["i2t_recall5"] = i2t_r5;
  j["chance_recall1"] = chance_r1;
  j["chance_recall5"] = chance_r5;
  auto& attrs = j["attributes"] = nlohmann::ordered_json::object();
  for (const auto& a : attributes)
    attrs[a.name] = {{"attribute", a.attribute}, {"accuracy", a.accuracy()}, {"chance", a.chance},
                     {"evaluated", a.evaluated}, {"skipped", a.skipped},      {"values", a.values}};
  j["seconds"] = seconds;
  return j;
}

std::string ClipEvalResult::markdown() const {
  std::string s = "| figure | value | chance |\n|---|---|---|\n";
  auto row = [&](const std::string& name, double v, double chance) {
    s += "| " + name + " | " + format(v) + " | " + format(chance) + " |\n";
  };
  const std::string g = " (" + std::to_string(records) + " records, groups of up to " +
                        std::to_string(group) + ")";
  row("text->image recall@1" + g, t2i_r1, chance_r1);
  row("text->image recall@5", t2i_r5, chance_r5);
  row("image->text recall@1", i2t_r1, chance_r1);
  row("image->text recall@5", i2t_r5, chance_r5);
  for (const auto& a : attributes)
    row(a.name + " (" + a.attribute + ") accuracy, " + std::to_string(a.values) + " values, " +
            std::to_string(a.evaluated) + " images",
        a.accuracy(), a.chance);
  return s;
}

}  // namespace couture
