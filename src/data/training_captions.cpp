#include "data/training_captions.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/stable_hash.h"

namespace couture {

CaptionMode parse_caption_mode(const std::string& name) {
  if (name == "full") return CaptionMode::full;
  if (name == "short") return CaptionMode::short_form;
  if (name == "both") return CaptionMode::both;
  if (name == "varied") return CaptionMode::varied;
  throw InputError("caption mode must be full, short, both or varied, got '" + name + "'");
}

const char* caption_mode_name(CaptionMode mode) {
  switch (mode) {
    case CaptionMode::full: return "full";
    case CaptionMode::short_form: return "short";
    case CaptionMode::both: return "both";
    case CaptionMode::varied: return "varied";
  }
  return "full";
}

uint64_t caption_draw(uint64_t seed, int64_t step, int64_t index) {
  return stable_hash(std::to_string(seed) + ":" + std::to_string(step) + ":" + std::to_string(index));
}

TrainingCaptions::TrainingCaptions(CaptionMode mode, const Lexicon& lexicon, CaptionVariantOptions variants)
    : mode_(mode), lexicon_(&lexicon), variants_(variants) {}

kfashion::Part TrainingCaptions::main_part(const DatasetRecord& record) const {
  if (!record.attributes.is_object() || !record.attributes.contains(record.main_part)) return {record.main_part, {}, {}};
  return part_from_json(record.main_part, record.attributes.at(record.main_part));
}

Captioned TrainingCaptions::from_part(const kfashion::Part& part, const DatasetRecord& record,
                                      std::optional<uint64_t> draw) const {
  if (mode_ == CaptionMode::varied && draw) {
    auto v = draw_caption(part, *lexicon_, *draw, variants_);
    return {std::move(v.text), std::move(v.expressed)};
  }
  // The stored captions' template, rebuilt with this part in place of the record's main part.
  std::string text;
  auto add = [&](const kfashion::Part& p) {
    const auto sentence = template_caption(p);
    if (sentence.empty()) return;
    if (!text.empty()) text.push_back(' ');
    text.append(sentence);
  };
  for (const auto& p : parts_from_json(record.attributes)) {
    if (p.is_style() || (p.name == record.main_part && part.name != record.main_part)) continue;
    add(p.name == record.main_part ? part : p);
  }
  if (part.name != record.main_part) add(part);
  return {std::move(text), part};
}

Captioned TrainingCaptions::caption(const DatasetRecord& record, std::optional<uint64_t> draw) const {
  COUTURE_CHECK_INPUT(!record.captions.empty() && !record.captions[0].empty(), "record ", record.index, " ('",
                      record.id, "') has no caption");
  const auto stored = [&](size_t form) {
    return Captioned{record.captions[std::min(form, record.captions.size() - 1)], main_part(record)};
  };
  if (!draw) return stored(0);
  switch (mode_) {
    case CaptionMode::full: return stored(0);
    case CaptionMode::short_form: return stored(1);
    case CaptionMode::both: return stored(double(*draw >> 11) * 0x1.0p-53 < 0.5 ? 1 : 0);
    case CaptionMode::varied: {
      auto part = main_part(record);
      if (part.empty()) return stored(0);  // nothing to vary: a record without labels keeps its caption
      return from_part(part, record, draw);
    }
  }
  return stored(0);
}

std::optional<std::string> TrainingCaptions::with_value(const DatasetRecord& record, std::optional<uint64_t> draw,
                                                        const std::string& attribute, const std::string& value) const {
  auto part = main_part(record);
  if (part.empty()) return std::nullopt;
  bool found = false;
  for (auto& a : part.attributes)
    if (a.name == attribute) a.values = {value}, found = true;
  if (!found) return std::nullopt;
  if (attribute == "카테고리") {
    const auto moved = lexicon_->part_of(value);
    if (!moved.empty()) part.name = moved;
  }
  const bool varied = mode_ == CaptionMode::varied && draw;
  auto out = from_part(part, record, varied ? draw : std::nullopt);
  // A drawn caption may leave the attribute out; then it says nothing the truth does not.
  if (lexicon_->canonical(attribute, out.expressed.first_value(attribute)) != lexicon_->canonical(attribute, value))
    return std::nullopt;
  return std::move(out.text);
}

}  // namespace couture
