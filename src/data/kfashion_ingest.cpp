#include "data/kfashion_ingest.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "data/ingest_journal.h"
#include "data/kfashion_record.h"
#include "data/parallel.h"
#include "data/stable_hash.h"

namespace couture {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

struct PlannedSample {
  SampleSpec spec;
  std::string category;
  uint64_t cap_hash = 0;
};

struct FilePlan {
  std::string label_hash;
  std::vector<PlannedSample> samples;
  std::vector<json> skipped;
  json notes;  // null, or the parser's notes
};

std::vector<std::string> list_labels(const fs::path& dir, const fs::path& out_dir) {
  COUTURE_CHECK_INPUT(fs::is_directory(dir), "--labels '", dir.string(), "' is not a folder");
  std::error_code ec;
  fs::path out = fs::weakly_canonical(out_dir, ec);
  std::vector<std::string> files;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (it->is_directory(e2) && fs::weakly_canonical(it->path(), e2) == out) {
      it.disable_recursion_pending();  // never read our own output as input
      continue;
    }
    if (it->is_regular_file(e2) && lower_ascii(it->path().extension().string()) == ".json")
      files.push_back(fs::relative(it->path(), dir, e2).generic_string());
  }
  COUTURE_CHECK_INPUT(!ec, "--labels '", dir.string(), "': cannot list: ", ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

FilePlan plan_file(const IngestOptions& o, const std::string& rel) {
  FilePlan plan;
  auto skip = [&](const std::string& part, const std::string& reason, const std::string& detail) {
    plan.skipped.push_back(skip_entry(rel, part, reason, detail));
  };
  LoadedLabel loaded = load_label(o.labels_dir, rel, {o.keep_unknown_values});
  plan.label_hash = loaded.hash;
  if (!loaded.label) {
    plan.skipped.push_back(std::move(loaded.skip));
    return plan;
  }
  const kfashion::Label& label = *loaded.label;
  if (!label.notes.empty()) plan.notes = label.notes;
  auto garments = garment_parts(label);
  if (garments.empty()) {
    skip("", kNoGarment, "라벨링 describes no garment (only empty parts or a style)");
    return plan;
  }
  std::string split = split_of(rel, o.test_fraction, o.split);
  std::string stem = fs::path(rel).stem().string();
  auto add = [&](const std::string& part, const kfashion::Part& described) {
    plan.samples.push_back({{part, split}, described.first_value("카테고리"), stable_hash(stem + "#" + part)});
  };
  if (o.crop == CropMode::outfit) {
    bool any_rect = std::any_of(garments.begin(), garments.end(), [](auto* p) { return p->rect.has_value(); });
    if (any_rect)
      add(kOutfitPart, *main_part(label));
    else
      skip("", kMissingRect, "no 렉트좌표 for the labelled parts");
  } else {
    for (const auto* p : garments) {
      if (p->rect)
        add(p->name, *p);
      else
        skip(p->name, kMissingRect, "no 렉트좌표 for " + p->name);
    }
  }
  return plan;
}

// Keeps, per category, the max_per_class samples with the smallest hash: a fixed, unbiased choice.
int64_t apply_class_cap(std::vector<FilePlan>& plans, int64_t max_per_class) {
  if (max_per_class <= 0) return 0;
  std::map<std::string, std::vector<std::tuple<uint64_t, size_t, size_t>>> by_class;
  for (size_t f = 0; f < plans.size(); ++f)
    for (size_t s = 0; s < plans[f].samples.size(); ++s)
      by_class[plans[f].samples[s].category].emplace_back(plans[f].samples[s].cap_hash, f, s);
  std::vector<std::vector<bool>> capped(plans.size());
  for (size_t f = 0; f < plans.size(); ++f) capped[f].assign(plans[f].samples.size(), false);
  int64_t count = 0;
  for (auto& [_, members] : by_class) {
    std::sort(members.begin(), members.end());
    for (size_t i = size_t(max_per_class); i < members.size(); ++i, ++count)
      capped[std::get<1>(members[i])][std::get<2>(members[i])] = true;
  }
  for (size_t f = 0; f < plans.size(); ++f) {
    std::vector<PlannedSample> kept;
    for (size_t s = 0; s < plans[f].samples.size(); ++s)
      if (!capped[f][s]) kept.push_back(std::move(plans[f].samples[s]));
    plans[f].samples = std::move(kept);
  }
  return count;
}

std::vector<SampleSpec> specs_of(const FilePlan& plan) {
  std::vector<SampleSpec> specs;
  for (const auto& s : plan.samples) specs.push_back(s.spec);
  return specs;
}

json settings_json(const IngestOptions& o) {
  return {{"size", o.size},
          {"crop", crop_mode_name(o.crop)},
          {"resize", resize_mode_name(o.resize)},
          {"caption_compat", o.captions.compat == kfashion::CaptionCompat::kodalle ? "kodalle" : "couture"},
          {"keep_style", o.captions.keep_style},
          {"keep_unknown_values", o.keep_unknown_values},
          {"max_per_class", o.max_per_class},
          {"test_fraction", o.test_fraction},
          {"split", split_mode_name(o.split)}};
}

void write_jsonl(const fs::path& path, const std::vector<json>& lines) {
  std::string text;
  for (const auto& l : lines) text += l.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  write_file_atomic(path, text);
}

}  // namespace

const char* crop_mode_name(CropMode m) { return m == CropMode::outfit ? "union" : "part"; }
const char* resize_mode_name(ResizeMode m) { return m == ResizeMode::pad ? "pad" : "squash"; }
const char* split_mode_name(SplitMode m) { return m == SplitMode::hash ? "hash" : "folder"; }

std::string split_of(const std::string& rel, double test_fraction, SplitMode mode) {
  if (mode == SplitMode::folder && rel.find('/') != std::string::npos) {
    std::string first = rel.substr(0, rel.find('/')), f = lower_ascii(first);
    auto has = [](const std::string& s, const char* part) { return s.find(part) != std::string::npos; };
    if (has(f, "train") || has(first, "학습")) return "train";
    if (has(f, "test") || has(f, "valid") || f == "val" || has(first, "검증") || has(first, "평가")) return "test";
  }
  return unit_hash(fs::path(rel).stem().string()) < test_fraction ? "test" : "train";
}

IngestReport ingest_kfashion(const IngestOptions& o) {
  auto start = std::chrono::steady_clock::now();
  COUTURE_CHECK_INPUT(o.size >= 8 && o.size <= 4096, "--size ", o.size, " is outside 8..4096");
  COUTURE_CHECK_INPUT(o.test_fraction >= 0 && o.test_fraction <= 1, "--test-fraction ", o.test_fraction,
                      " is outside 0..1");
  COUTURE_CHECK_INPUT(fs::is_directory(o.images_dir), "--images '", o.images_dir.string(), "' is not a folder");
  const int threads = o.threads > 0 ? o.threads : couture::threads();
  IngestReport report;
  report.out_dir = o.out_dir;

  std::vector<std::string> files = list_labels(o.labels_dir, o.out_dir);
  COUTURE_CHECK_INPUT(!files.empty(), "--labels '", o.labels_dir.string(), "' holds no .json label files");
  report.label_files = int64_t(files.size());
  fs::create_directories(o.out_dir);

  std::vector<FilePlan> plans(files.size());
  {
    Progress progress("reading labels", int64_t(files.size()), "files");
    parallel_for(files.size(), threads, [&](size_t i) {
      plans[i] = plan_file(o, files[i]);
      progress.advance();
    });
  }
  report.capped = apply_class_cap(plans, o.max_per_class);
  std::vector<size_t> work;
  std::vector<json> skipped, notes;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!plans[i].samples.empty()) work.push_back(i);
    for (auto& s : plans[i].skipped) skipped.push_back(std::move(s));
    if (!plans[i].notes.is_null()) notes.push_back({{"file", files[i]}, {"notes", std::move(plans[i].notes)}});
  }
  report.noted_files = int64_t(notes.size());

  RecordOptions ro{o.labels_dir, o.images_dir, o.size, o.resize, o.captions, {o.keep_unknown_values}};
  ImageFinder finder(o.images_dir);
  ImagesHeader shape;
  shape.height = shape.width = uint32_t(o.size);
  IngestJournal journal(o.out_dir, shape, settings_json(o));
  size_t reused = journal.resume([&](const json& entry, size_t k) {
    if (k >= work.size()) return false;
    const FilePlan& plan = plans[work[k]];
    const std::string& rel = files[work[k]];
    if (entry.value("file", "") != rel || entry.value("label_hash", "") != plan.label_hash ||
        entry.value("samples", "") != samples_key(specs_of(plan)))
      return false;
    const json& image = entry["image"];
    if (image.is_object())  // the same photo, unchanged
      return ImageFinder::signature(o.images_dir / image.value("path", ""), o.images_dir) == image;
    // The photo was missing or the label unreadable then: redo unless that still holds.
    LoadedLabel loaded = load_label(o.labels_dir, rel, {o.keep_unknown_values});
    return !loaded.label || !finder.find(rel, *loaded.label).has_value();
  });
  report.reused_files = int64_t(reused);
  if (reused > 0) log::info("resuming: " + std::to_string(reused) + " files done by an earlier run");

  {
    Progress progress("cropping photos", int64_t(work.size()), "files");
    progress.set_done(int64_t(reused));
    const size_t chunk = size_t(threads) * 16;
    for (size_t begin = reused; begin < work.size(); begin += chunk) {
      size_t n = std::min(chunk, work.size() - begin);
      std::vector<FileOutcome> outcomes(n);
      parallel_for(n, threads, [&](size_t j) {
        size_t f = work[begin + j];
        outcomes[j] = make_records(files[f], specs_of(plans[f]), ro, finder);
        progress.advance();
      });
      for (auto& out : outcomes) journal.append(std::move(out.entry), out.images);
    }
  }
  report.processed_files = int64_t(work.size() - reused);

  IngestJournal::Totals totals = journal.finish();
  report.records[0] = totals.records[0];
  report.records[1] = totals.records[1];
  for (auto& s : totals.skipped) skipped.push_back(std::move(s));
  std::stable_sort(skipped.begin(), skipped.end(),
                   [](const json& a, const json& b) { return a.value("file", "") < b.value("file", ""); });
  for (const auto& s : skipped) report.skipped[s.value("reason", "")]++;
  report.files_with_records = totals.files_with_records;
  write_jsonl(o.out_dir / "skipped.jsonl", skipped);
  write_jsonl(o.out_dir / "notes.jsonl", notes);

  json skip_counts = json::object();
  for (const auto& [reason, n] : report.skipped) skip_counts[reason] = n;
  json info = {{"format", kDatasetFormat},
               {"version", kDatasetVersion},
               {"image", {{"height", o.size}, {"width", o.size}, {"channels", 3}}},
               {"splits", json::object()},
               {"settings", settings_json(o)},
               {"inputs", {{"labels", fs::absolute(o.labels_dir).string()}, {"images", fs::absolute(o.images_dir).string()}}},
               {"counts",
                {{"label_files", report.label_files},
                 {"files_with_records", report.files_with_records},
                 {"capped", report.capped},
                 {"noted_files", report.noted_files},
                 {"skipped", skip_counts}}}};
  for (int s = 0; s < 2; ++s)
    info["splits"][kSplits[s]] = {{"count", report.records[s]},
                                  {"images", kSplits[s] + ".images"},
                                  {"captions", kSplits[s] + ".captions.jsonl"}};
  if (!o.origin.is_null()) info["origin"] = o.origin;
  write_file_atomic(o.out_dir / "dataset.json", info.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string format_report(const IngestReport& r) {
  std::ostringstream out;
  char line[256];
  auto row = [&](const std::string& label, int64_t n, const std::string& tail = "") {
    // Pad by display width: a Hangul syllable takes two columns and three bytes.
    int width = 0;
    for (size_t i = 0; i < label.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(label[i]);
      if ((c & 0xC0) != 0x80) width += c >= 0xE0 ? 2 : 1;
    }
    std::snprintf(line, sizeof line, "  %s%*s %10lld%s%s\n", label.c_str(), std::max(0, 28 - width), "",
                  static_cast<long long>(n), tail.empty() ? "" : " ", tail.c_str());
    out << line;
  };
  int64_t skipped = 0;
  for (const auto& [_, n] : r.skipped) skipped += n;
  out << "prepared '" << r.out_dir.string() << "' in " << Progress::format_duration(r.seconds) << "\n";
  row("label files read", r.label_files);
  row("files kept", r.files_with_records,
      "-> " + std::to_string(r.records[0] + r.records[1]) + " records (train " + std::to_string(r.records[0]) +
          ", test " + std::to_string(r.records[1]) + ")");
  row("reused from an earlier run", r.reused_files, "files");
  row("processed in this run", r.processed_files, "files");
  if (r.capped) row("capped (--max-per-class)", r.capped, "samples");
  if (r.noted_files) row("kept with notes", r.noted_files, "files (notes.jsonl)");
  row("skipped", skipped, skipped ? "(skipped.jsonl)" : "");
  for (const auto& [reason, n] : r.skipped) row("  " + reason, n);
  return out.str();
}

}  // namespace couture
