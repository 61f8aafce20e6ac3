#include "train/attribute_labels.h"

#include <cstdio>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "data/batcher.h"
#include "data/dataset.h"

namespace couture {

nlohmann::json AttributeClasses::to_json() const {
  return {{"categories", categories}, {"colours", colours}, {"prints", prints}};
}

AttributeClasses AttributeClasses::from_json(const nlohmann::json& j) {
  try {
    return {j.at("categories").get<std::vector<std::string>>(), j.at("colours").get<std::vector<std::string>>(),
            j.at("prints").get<std::vector<std::string>>()};
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("attribute classes: ") + e.what());
  }
}

namespace {
int64_t index_of(const std::vector<std::string>& list, const std::string& v) {
  auto it = std::lower_bound(list.begin(), list.end(), v);
  return it != list.end() && *it == v ? int64_t(it - list.begin()) : -1;
}
}  // namespace

AttributeLabels read_attribute_labels(const Dataset& data, const AttributeClasses* known) {
  std::vector<DatasetRecord> records;
  records.reserve(size_t(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) records.push_back(data.record(i));
  AttributeLabels labels;
  if (known) {
    labels.classes = *known;
  } else {
    std::set<std::string> cat, col, pr;
    for (const auto& r : records) cat.insert(r.category), col.insert(r.colour), pr.insert(r.print);
    labels.classes = {{cat.begin(), cat.end()}, {col.begin(), col.end()}, {pr.begin(), pr.end()}};
  }
  std::vector<int64_t> c, o, p;
  for (const auto& r : records) {
    c.push_back(index_of(labels.classes.categories, r.category));
    o.push_back(index_of(labels.classes.colours, r.colour));
    p.push_back(index_of(labels.classes.prints, r.print));
  }
  labels.category = torch::tensor(c, torch::kLong), labels.colour = torch::tensor(o, torch::kLong);
  labels.print = torch::tensor(p, torch::kLong);
  return labels;
}

at::Tensor attribute_loss(const AttributeLogits& logits, const AttributeLabels& labels, const at::Tensor& idx) {
  auto ce = [&](const at::Tensor& l, const at::Tensor& all) {
    return torch::nn::functional::cross_entropy(
        l, all.index_select(0, idx).to(l.device()),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
  };
  return ce(logits.category, labels.category) + ce(logits.colour, labels.colour) + ce(logits.print, labels.print);
}

void AttributeHits::add(const AttributeLogits& logits, const at::Tensor& category, const at::Tensor& colour,
                        const at::Tensor& print) {
  auto right = [](const at::Tensor& l, const at::Tensor& truth) { return l.argmax(1).cpu().eq(truth); };
  auto c = right(logits.category, category), o = right(logits.colour, colour), p = right(logits.print, print);
  n += category.size(0);
  this->category += c.sum().item<int64_t>();
  this->colour += o.sum().item<int64_t>();
  this->print += p.sum().item<int64_t>();
  all += (c & o & p).sum().item<int64_t>();
}

void AttributeHits::add(const AttributeLogits& logits, const AttributeLabels& labels, const at::Tensor& idx) {
  add(logits, labels.category.index_select(0, idx), labels.colour.index_select(0, idx),
      labels.print.index_select(0, idx));
}

nlohmann::ordered_json AttributeHits::to_json(const std::string& prefix) const {
  return {{prefix + "category", rate(category)},
          {prefix + "colour", rate(colour)},
          {prefix + "print", rate(print)},
          {prefix + "all", rate(all)}};
}

std::string AttributeHits::markdown_row(const std::string& name) const {
  char buf[96];
  std::snprintf(buf, sizeof buf, " | %.3f | %.3f | %.3f | %.3f |\n", rate(category), rate(colour), rate(print),
                rate(all));
  return "| " + name + buf;
}

std::map<std::string, double> AttributeEvaluation::metrics() const {
  return {{"val_loss", loss},
          {"val_category_acc", hits.rate(hits.category)},
          {"val_colour_acc", hits.rate(hits.colour)},
          {"val_print_acc", hits.rate(hits.print)},
          {"val_all_acc", hits.rate(hits.all)}};
}

AttributeEvaluation evaluate_attributes(const std::function<AttributeLogits(const at::Tensor&)>& logits_of,
                                        const Dataset& split, const AttributeLabels& labels, int64_t limit,
                                        c10::Device device) {
  torch::NoGradGuard no_grad;
  AttributeEvaluation out;
  const int64_t n = limit > 0 ? std::min(limit, split.size()) : split.size();
  for (int64_t start = 0; start < n; start += 100) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(n, start + 100); ++i) idx.push_back(i);
    auto t = torch::tensor(idx, torch::kLong);
    auto logits = logits_of(images_to_tensor(split, idx).to(device));
    out.loss += attribute_loss(logits, labels, t).item<double>() * double(idx.size());
    out.hits.add(logits, labels, t);
  }
  if (n > 0) out.loss /= double(n);
  return out;
}

}  // namespace couture
