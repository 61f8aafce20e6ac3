// A prepared dataset's garment attributes as class indices: category, colour and print of each record's main part.
// Shared by the networks trained on them (`couture train features`, `couture train judge`) and the evaluation.
#pragma once
#include <ATen/core/Tensor.h>

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/attribute_logits.h"

namespace couture {

class Dataset;

// Class names of the three heads, taken from the training split (sorted), saved in the weights' metadata.
struct AttributeClasses {
  std::vector<std::string> categories, colours, prints;
  nlohmann::json to_json() const;
  static AttributeClasses from_json(const nlohmann::json& j);  // InputError on a malformed object
};

struct AttributeLabels {
  AttributeClasses classes;
  at::Tensor category, colour, print;  // [records] int64; -1 where the value is not among the classes
};

// With `known` null the classes are the split's own values; else the split's values are looked up in `known`.
AttributeLabels read_attribute_labels(const Dataset& data, const AttributeClasses* known);

// Sum of the three cross-entropies for the records `idx` (int64 [B]); labels -1 are ignored.
at::Tensor attribute_loss(const AttributeLogits& logits, const AttributeLabels& labels, const at::Tensor& idx);

// Counts of right answers (argmax equal to the label) per attribute and all three at once.
struct AttributeHits {
  int64_t n = 0, category = 0, colour = 0, print = 0, all = 0;
  // logits for B images whose true classes are `category`, `colour`, `print` (int64 [B] each).
  void add(const AttributeLogits& logits, const at::Tensor& category, const at::Tensor& colour,
           const at::Tensor& print);
  void add(const AttributeLogits& logits, const AttributeLabels& labels, const at::Tensor& idx);
  double rate(int64_t hits) const { return n ? double(hits) / double(n) : 0.0; }
  // {"<prefix>category": acc, ..., "<prefix>all": acc}
  nlohmann::ordered_json to_json(const std::string& prefix = "") const;
  // "| name | category | colour | print | all three |" with three decimals, and a line break: a table row.
  std::string markdown_row(const std::string& name) const;
};

// A network's loss and accuracy on records [0, limit) of a split (limit 0: all), in batches of 100, without
// gradients. `logits_of` gets images in [-1, 1] on `device`.
struct AttributeEvaluation {
  double loss = 0;  // mean over the records of attribute_loss
  AttributeHits hits;
  // {"val_loss", "val_category_acc", "val_colour_acc", "val_print_acc", "val_all_acc"} for metrics.jsonl
  std::map<std::string, double> metrics() const;
};
AttributeEvaluation evaluate_attributes(const std::function<AttributeLogits(const at::Tensor&)>& logits_of,
                                        const Dataset& split, const AttributeLabels& labels, int64_t limit,
                                        c10::Device device);

}  // namespace couture
