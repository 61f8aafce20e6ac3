#include "eval/generate_eval.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <tuple>

#include "core/error.h"
#include "core/progress.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/portable_random.h"
#include "models/clip.h"
#include "nn/tensor_io.h"

namespace couture {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

JudgeReading judge_records(const LoadedJudge& judge, const Dataset& split, const std::vector<int64_t>& records) {
  std::vector<at::Tensor> f, c, o, p;
  for (size_t start = 0; start < records.size(); start += 500) {
    std::vector<int64_t> idx(records.begin() + long(start), records.begin() + long(std::min(records.size(), start + 500)));
    auto out = judge_images(judge, images_to_tensor(split, idx));
    f.push_back(out.features), c.push_back(out.logits.category), o.push_back(out.logits.colour);
    p.push_back(out.logits.print);
  }
  return {at::cat(f), {at::cat(c), at::cat(o), at::cat(p)}};
}

AttributeLogits rows(const AttributeLogits& l, const at::Tensor& idx) {
  return {l.category.index_select(0, idx), l.colour.index_select(0, idx), l.print.index_select(0, idx)};
}

// Mean L2 distance over the pairs of rows of [N, D] (N >= 2).
double mean_pairwise_distance(const at::Tensor& features) {
  const int64_t n = features.size(0);
  auto d = at::cdist(features.to(at::kDouble).unsqueeze(0), features.to(at::kDouble).unsqueeze(0))[0];
  return d.sum().item<double>() / double(n * (n - 1));
}

std::vector<int64_t> seeded_order(int64_t count, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(uniform_below(rng, i))]);
  return order;
}

// Real test images that share all three attributes, in groups of up to `n`: mean pairwise distance per group,
// averaged over the groups of two or more.
double real_diversity(const at::Tensor& test_features, const AttributeLabels& labels, int64_t n, uint64_t seed) {
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<int64_t>> groups;
  auto c = labels.category.accessor<int64_t, 1>(), o = labels.colour.accessor<int64_t, 1>();
  auto p = labels.print.accessor<int64_t, 1>();
  for (int64_t i : seeded_order(labels.category.size(0), seed)) {
    auto& g = groups[{c[i], o[i], p[i]}];
    if (int64_t(g.size()) < n) g.push_back(i);
  }
  double sum = 0;
  int64_t count = 0;
  for (const auto& [key, members] : groups) {
    if (members.size() < 2) continue;
    sum += mean_pairwise_distance(test_features.index_select(0, torch::tensor(members, torch::kLong)));
    ++count;
  }
  return count ? sum / double(count) : std::nan("");
}

std::string fmt(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Every candidate of an evaluation, for `couture eval rerank` (src/eval/rerank_eval.h reads it).
struct CandidateDump {
  std::vector<std::string> prompts;
  std::vector<at::Tensor> images, asked, judged, score, index;

  void add(const std::string& prompt, const std::array<int64_t, 3>& truth, const GenerateResult& generated,
           const AttributeLogits& judge) {
    prompts.push_back(prompt);
    std::vector<at::Tensor> pixels;
    std::vector<double> s;
    std::vector<int64_t> idx;
    for (const auto& c : generated.candidates) {
      COUTURE_CHECK(c.image.channels == 3, "eval generate: a candidate is not RGB");
      pixels.push_back(torch::tensor(c.image.pixels, torch::kUInt8).view({c.image.height, c.image.width, 3}));
      s.push_back(c.score), idx.push_back(c.index);
    }
    images.push_back(at::stack(pixels));
    asked.push_back(torch::tensor(std::vector<int64_t>(truth.begin(), truth.end()), torch::kLong));
    judged.push_back(at::stack({judge.category.argmax(1), judge.colour.argmax(1), judge.print.argmax(1)}, 1));
    score.push_back(torch::tensor(s, torch::kDouble).to(torch::kFloat));
    index.push_back(torch::tensor(idx, torch::kLong));
  }

  void write(const std::filesystem::path& path, const AttributeClasses& classes, const GenerateParams& params) const {
    if (prompts.empty()) return;
    std::map<std::string, std::string> metadata = {
        {"prompts", nlohmann::json(prompts).dump()},
        {"classes", nlohmann::json{{"category", classes.categories}, {"colour", classes.colours},
                                   {"print", classes.prints}}.dump()},
        {"settings", params.settings_json().dump()}};
    save_tensors(path, {{"images", at::stack(images)}, {"asked", at::stack(asked)}, {"judged", at::stack(judged)},
                        {"score", at::stack(score)}, {"index", at::stack(index)}},
                 metadata);
  }
};

}  // namespace

double frechet_distance(const at::Tensor& a, const at::Tensor& b) {
  COUTURE_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1) && a.size(0) >= 2 && b.size(0) >= 2,
                "frechet_distance: need [N, D] and [M, D] with N, M >= 2, got ", a.sizes(), " and ", b.sizes());
  auto x = a.to(at::kDouble), y = b.to(at::kDouble);
  auto mu1 = x.mean(0), mu2 = y.mean(0);
  auto s1 = at::cov(x.t()), s2 = at::cov(y.t());
  // tr((S1 S2)^1/2) = sum of sqrt(eigenvalues of S1^1/2 S2 S1^1/2), a symmetric PSD matrix.
  auto [l1, v1] = at::linalg_eigh(s1);
  auto root1 = v1.matmul(at::diag(l1.clamp_min(0).sqrt())).matmul(v1.t());
  auto middle = root1.matmul(s2).matmul(root1);
  auto cross = at::linalg_eigvalsh((middle + middle.t()) / 2).clamp_min(0).sqrt().sum();
  return ((mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * cross).item<double>();
}

EvalPromptFile read_eval_prompts(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  COUTURE_CHECK_INPUT(in, "prompts file '", file.string(), "': cannot be read");
  EvalPromptFile out;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::string problem;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    EvalPrompt e;
    if (j.is_discarded() || !j.is_object()) {
      problem = "not a JSON object";
    } else {
      for (auto [key, field] : {std::pair{"prompt", &e.prompt}, std::pair{"category", &e.category},
                                std::pair{"colour", &e.colour}, std::pair{"print", &e.print}}) {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
          problem = std::string("field '") + key + "' must be a non-empty string";
        else
          *field = it->get<std::string>();
        if (!problem.empty()) break;
      }
      const auto negative = j.find("negative_prompt");
      if (problem.empty() && negative != j.end()) {
        if (negative->is_string()) e.negative_prompt = negative->get<std::string>();
        else problem = "field 'negative_prompt' must be a string";
      }
    }
    if (problem.empty()) {
      out.prompts.push_back(std::move(e));
    } else if (out.skipped++ == 0) {
      out.first_problem = file.string() + " line " + std::to_string(line_no) + ": " + problem;
    }
  }
  COUTURE_CHECK_INPUT(!out.prompts.empty(), "prompts file '", file.string(), "': no usable prompt",
                      out.first_problem.empty() ? std::string() : " (" + out.first_problem + ")");
  return out;
}

GenerateEvalResult evaluate_generation(Generator& generator, const LoadedJudge& judge, const Dataset& train,
                                       const Dataset& test, const GenerateEvalOptions& options) {
  const auto start = Clock::now();
  GenerateParams params = options.sampling;
  const uint64_t seed = options.sampling.seed;
  params.validate();
  COUTURE_CHECK_INPUT(options.prompts > 0, "eval generate: --prompts must be positive, got ", options.prompts);
  COUTURE_CHECK_INPUT(test.size() >= 2 && train.size() >= 2, "dataset '", test.dir().string(),
                      "': needs at least two train and two test records");
  GenerateEvalResult result;
  result.n = params.n;
  result.top = std::min(params.top, params.n);
  result.prompts = std::min(options.prompts, test.size());

  // The ceiling: the judge on every real test image.
  AttributeLabels labels = read_attribute_labels(test, &judge.classes);
  std::vector<int64_t> all_test(size_t(test.size()));
  std::iota(all_test.begin(), all_test.end(), 0);
  JudgeReading real = judge_records(judge, test, all_test);
  result.real_test = test.size();
  result.ceiling.add(real.logits, labels.category, labels.colour, labels.print);

  // Generate for N captions picked by seed, or for the given prompts; `truth` holds each one's class indices and the
  // test record that shows them (-1: none).
  const bool from_list = !options.prompt_list.empty();
  if (from_list) result.prompts = int64_t(options.prompt_list.size());
  const auto picked = seeded_order(test.size(), seed);
  std::map<std::string, int64_t> record_with;  // "category|colour|print" -> the first test record (seeded order)
  if (from_list)
    for (int64_t i : picked) {
      const auto r = test.record(i);
      record_with.emplace(r.category + "|" + r.colour + "|" + r.print, i);
    }
  auto class_of = [](const std::vector<std::string>& classes, const std::string& value) {
    const auto it = std::find(classes.begin(), classes.end(), value);
    return it == classes.end() ? int64_t(-1) : int64_t(it - classes.begin());
  };
  std::vector<at::Tensor> generated_features;
  CandidateDump dump;
  double diversity = 0, score_kept = 0, score_all = 0;
  Progress progress("eval generate", result.prompts, "captions");
  for (int64_t p = 0; p < result.prompts; ++p) {
    int64_t record_index = -1;
    std::array<int64_t, 3> truth_class{};
    GenerateEvalCaption shown;
    if (from_list) {
      const auto& e = options.prompt_list[size_t(p)];
      params.prompt = e.prompt;
      params.negative_prompt = e.negative_prompt.empty() ? options.sampling.negative_prompt : e.negative_prompt;
      shown = {-1, e.prompt, e.category, e.colour, e.print, {}};
      if (auto it = record_with.find(e.category + "|" + e.colour + "|" + e.print); it != record_with.end())
        record_index = it->second, shown.record = record_index;
      truth_class = {class_of(judge.classes.categories, e.category), class_of(judge.classes.colours, e.colour),
                     class_of(judge.classes.prints, e.print)};
    } else {
      record_index = picked[size_t(p)];
      DatasetRecord record = test.record(record_index);
      COUTURE_CHECK_INPUT(!record.captions.empty(), "dataset '", test.dir().string(), "': test record ",
                          record_index, " has no caption");
      params.prompt = record.captions[0];
      shown = {record_index, params.prompt, record.category, record.colour, record.print, {}};
      truth_class = {labels.category[record_index].item<int64_t>(), labels.colour[record_index].item<int64_t>(),
                     labels.print[record_index].item<int64_t>()};
    }
    params.seed = seed + uint64_t(p) * uint64_t(params.n);
    const auto t0 = Clock::now();
    GenerateResult generated = generator.generate(params);
    result.generate_seconds += since(t0);
    const int64_t n = int64_t(generated.candidates.size());
    COUTURE_CHECK(n == params.n, "eval generate: the generator returned ", n, " candidates, asked for ", params.n);

    std::vector<Image> images;
    std::vector<double> scores;
    for (const auto& c : generated.candidates) images.push_back(c.image), scores.push_back(c.score);
    JudgeReading out = judge_images(judge, resize_to_batch(images, judge.image_size));
    generated_features.push_back(out.features);

    auto truth = [&](int attribute, int64_t count) {
      return torch::full({count}, truth_class[size_t(attribute)], torch::kLong);
    };
    auto add = [&](AttributeHits& hits, const std::vector<int64_t>& which) {
      auto idx = torch::tensor(which, torch::kLong);
      auto k = int64_t(which.size());
      hits.add(rows(out.logits, idx), truth(0, k), truth(1, k), truth(2, k));
    };
    std::vector<int64_t> kept(size_t(result.top)), random = seeded_order(n, seed ^ (0x9e3779b97f4a7c15ULL + uint64_t(p)));
    std::iota(kept.begin(), kept.end(), 0);
    random.resize(size_t(result.top));
    add(result.top1, {0});
    add(result.topk, kept);
    add(result.randomk, random);
    {  // best of n: does some candidate show each attribute (and one all three)?
      auto hit = [&](const at::Tensor& logits, int attribute) {
        return logits.argmax(1).eq(truth_class[size_t(attribute)]);
      };
      const at::Tensor category = hit(out.logits.category, 0), colour = hit(out.logits.colour, 1),
                       print = hit(out.logits.print, 2);
      result.any.n += 1;
      result.any.category += category.any().item<bool>();
      result.any.colour += colour.any().item<bool>();
      result.any.print += print.any().item<bool>();
      result.any.all += (category & colour & print).any().item<bool>();
    }
    for (int64_t c : truth_class) result.unknown_labels += c < 0;
    if (!options.candidates_out.empty()) dump.add(params.prompt, truth_class, generated, out.logits);

    // The caption's own real image through the bundle's image tokenizer.
    if (record_index >= 0) {
      Image through = generator.decode_image(generator.encode_image(test.image_copy(record_index)));
      auto tokenized = judge_images(judge, resize_to_batch({through}, judge.image_size));
      result.tokenized.add(tokenized.logits, truth(0, 1), truth(1, 1), truth(2, 1));
    }

    if (n >= 2) diversity += mean_pairwise_distance(out.features);
    score_kept += std::accumulate(scores.begin(), scores.begin() + result.top, 0.0) / double(result.top);
    score_all += std::accumulate(scores.begin(), scores.end(), 0.0) / double(n);
    if (p < options.grid_rows) {
      shown.kept.assign(images.begin(), images.begin() + result.top);
      result.shown.push_back(std::move(shown));
    }
    progress.advance();
  }
  progress.finish();
  result.diversity = diversity / double(result.prompts);
  result.score_kept = score_kept / double(result.prompts);
  result.score_all = score_all / double(result.prompts);
  result.diversity_real = real_diversity(real.features, labels, result.n, seed);

  // Fréchet distances: generated vs real test, and real train (as many images) vs the same real test.
  auto generated = at::cat(generated_features);
  result.fd_generated = frechet_distance(generated, real.features);
  auto train_order = seeded_order(train.size(), seed + 1);
  train_order.resize(size_t(std::min<int64_t>(generated.size(0), train.size())));
  result.real_train = int64_t(train_order.size());
  result.fd_train = frechet_distance(judge_records(judge, train, train_order).features, real.features);
  if (!options.candidates_out.empty()) dump.write(options.candidates_out, judge.classes, params);
  result.seconds = since(start);
  return result;
}

nlohmann::ordered_json GenerateEvalResult::to_json() const {
  nlohmann::ordered_json j = {{"prompts", prompts}, {"n", n}, {"top", top}, {"real_test", real_test}};
  j.update(ceiling.to_json("ceiling_"));
  j.update(tokenized.to_json("tokenized_"));
  j.update(top1.to_json("top1_"));
  j.update(topk.to_json("topk_"));
  j.update(randomk.to_json("randomk_"));
  j.update(any.to_json("any_"));
  j["unknown_labels"] = unknown_labels;
  j["fd_generated"] = fd_generated;
  j["fd_real_train"] = fd_train;
  j["real_train"] = real_train;
  j["diversity"] = diversity;
  j["diversity_real"] = std::isnan(diversity_real) ? nlohmann::ordered_json() : nlohmann::ordered_json(diversity_real);
  j["score_kept"] = score_kept;
  j["score_all"] = score_all;
  j["generate_seconds"] = generate_seconds;
  j["seconds"] = seconds;
  return j;
}

std::string GenerateEvalResult::markdown() const {
  auto ratio = [&](int64_t AttributeHits::*field) {
    const double c = ceiling.rate(ceiling.*field);
    return c > 0 ? fmt(top1.rate(top1.*field) / c, 2) : std::string("-");
  };
  const std::string N = std::to_string(n), K = std::to_string(top);
  std::string s = "Attribute accuracy (the judge's reading; " + std::to_string(prompts) + " test captions, " + N +
                  " candidates each):\n\n| images | category | colour | print | all three |\n|---|---|---|---|---|\n";
  s += ceiling.markdown_row("real test images (the ceiling, " + std::to_string(real_test) + ")");
  if (tokenized.n > 0)  // prompts without a real image that shows them leave this row
    s += tokenized.markdown_row("the same captions' real images through the VQGAN (" + std::to_string(tokenized.n) +
                                ")");
  s += top1.markdown_row("top-1 of " + N + " (reranked)");
  s += topk.markdown_row("top-" + K + " of " + N + " (reranked)");
  s += randomk.markdown_row(K + " random of " + N);
  s += any.markdown_row("some candidate of " + N + " (what a perfect reranker would keep first)");
  s += "| top-1 / ceiling | " + ratio(&AttributeHits::category) + " | " + ratio(&AttributeHits::colour) + " | " +
       ratio(&AttributeHits::print) + " | " + ratio(&AttributeHits::all) + " |\n\n";
  s += "| figure | generated | reference |\n|---|---|---|\n";
  s += "| Fréchet distance to the real test images (judge features) | " + fmt(fd_generated) + " (" +
       std::to_string(prompts * n) + " candidates) | " + fmt(fd_train) + " (" + std::to_string(real_train) +
       " real train images) |\n";
  s += "| diversity: mean pairwise feature distance within a caption | " + fmt(diversity) + " | " +
       (std::isnan(diversity_real) ? std::string("-") : fmt(diversity_real)) +
       " (real test images with the same three attributes) |\n";
  s += "| reranker score | " + fmt(score_kept) + " (kept " + K + ") | " + fmt(score_all) + " (all " + N + ") |\n";
  if (!shown.empty()) {
    s += "\nFigure rows (real test image, then the kept " + K + "):\n\n";
    for (size_t i = 0; i < shown.size(); ++i)
      s += std::to_string(i + 1) + ". " + shown[i].caption + " (" + shown[i].category + ", " + shown[i].colour +
           ", " + shown[i].print + ")\n";
  }
  return s;
}

Image generate_eval_figure(const GenerateEvalResult& result, const Dataset& test) {
  std::vector<Image> tiles;
  int size = 0;
  for (const auto& c : result.shown)
    for (const auto& img : c.kept) size = std::max(size, img.width);
  for (const auto& c : result.shown) {
    Image real = c.record >= 0 ? test.image_copy(c.record) : make_image(size, size, 3, 255);  // white: no test image shows what was asked
    tiles.push_back(real.width == size ? real : resize_image(real, size, size));
    for (const auto& img : c.kept) tiles.push_back(img.width == size ? img : resize_image(img, size, size));
  }
  COUTURE_CHECK(!tiles.empty(), "eval generate: no captions to show in the figure");
  return tile_images(tiles, int(result.top) + 1);
}

}  // namespace couture
