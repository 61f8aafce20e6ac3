// `couture eval clip`: how well a trained CLIP matches captions and garments on a prepared dataset's test split.
// - Retrieval: consecutive groups of 100 records (the last group may be smaller); text->image: does a caption's own
//   image score highest (recall@1) / among the top 5 (recall@5) of the group's images; image->text likewise.
// - Per attribute (colour 색상, category 카테고리, print 프린트): for each image, the true full caption against
//   variants that differ only in that attribute's value (the sentence of the record's main part rebuilt with the
//   caption template, every other value the split holds); correct when the true caption scores highest.
// Each figure comes with its chance level.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "generate/rerank.h"

namespace couture {

struct CaptionVariants {
  std::vector<std::string> captions;  // [0] is the record's own caption
  std::vector<std::string> values;    // the attribute value each caption names (values[0]: the true one(s))
};

// Variants of record.captions[0] that differ only in `attribute` of the main part, one per value in `values` that
// the record does not hold. nullopt when the record has no such attribute or its sentence is not in the caption.
// `part_of_value` (for categories: the part each is worn as) moves a variant's every sentence to the value's part.
std::optional<CaptionVariants> attribute_variants(const DatasetRecord& record, const std::string& attribute,
                                                  const std::vector<std::string>& values,
                                                  const std::map<std::string, std::string>& part_of_value = {});

struct ClipEvalOptions {
  int64_t limit = 1000;       // test records evaluated (0: the whole split)
  int64_t group = 100;        // retrieval candidates per group
  std::vector<std::string> attributes = {"색상", "카테고리", "프린트"};
};

struct AttributeAccuracy {
  std::string attribute, name;  // 색상, "colour"
  int64_t values = 0;           // distinct values in the split
  int64_t evaluated = 0, correct = 0, skipped = 0;
  double chance = 0;            // mean of 1 / (variants) over the evaluated records
  double accuracy() const { return evaluated ? double(correct) / double(evaluated) : 0.0; }
};

struct ClipEvalResult {
  int64_t records = 0, groups = 0, group = 0;  // records in retrieval, groups, candidates per group
  double t2i_r1 = 0, t2i_r5 = 0, i2t_r1 = 0, i2t_r5 = 0;
  double chance_r1 = 0, chance_r5 = 0;  // per record, averaged (groups may differ in size)
  std::vector<AttributeAccuracy> attributes;
  double seconds = 0;

  nlohmann::ordered_json to_json() const;
  std::string markdown() const;  // a table: figure, value, chance
};

ClipEvalResult evaluate_clip(const ClipScorer& scorer, const Dataset& split, const ClipEvalOptions& options = {});

}  // namespace couture
