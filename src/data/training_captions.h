// What the DALL-E and the reranker read for a training record: the caption `couture prepare` stored (the label
// template, or its short form), or with `varied` a caption drawn per record and step as designers write
// (text/caption_variants.h), and for the reranker's hard negatives the same caption with one attribute changed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "text/caption_variants.h"
#include "text/lexicon.h"

namespace couture {

enum class CaptionMode {
  full,        // captions[0], the label template
  short_form,  // captions[1]
  both,        // full or short, drawn
  varied,      // drawn from the main part's labels and the lexicon: template, phrase, sentence or list
};
CaptionMode parse_caption_mode(const std::string& name);  // full | short | both | varied; InputError otherwise
const char* caption_mode_name(CaptionMode mode);

struct Captioned {
  std::string text;
  kfashion::Part expressed;  // varied: the attributes the text states; otherwise the main part's attributes
};

class TrainingCaptions {
 public:
  explicit TrainingCaptions(CaptionMode mode, const Lexicon& lexicon = default_lexicon(),
                            CaptionVariantOptions variants = {});

  // The caption of `record` for one draw (a hash of seed, step and record). `draw` absent: the stored full caption,
  // for validation and sample grids, whatever the mode.
  Captioned caption(const DatasetRecord& record, std::optional<uint64_t> draw) const;

  // The caption of the same draw with `attribute` of the main part set to `value` (a category of another part moves
  // the garment to that part, or the part's name would give the answer away). nullopt when the drawn caption does
  // not state `attribute` with `value` (the draw left it out): such a negative would not differ from the truth.
  std::optional<std::string> with_value(const DatasetRecord& record, std::optional<uint64_t> draw,
                                        const std::string& attribute, const std::string& value) const;

  CaptionMode mode() const { return mode_; }
  const Lexicon& lexicon() const { return *lexicon_; }

 private:
  kfashion::Part main_part(const DatasetRecord& record) const;
  Captioned from_part(const kfashion::Part& part, const DatasetRecord& record, std::optional<uint64_t> draw) const;

  CaptionMode mode_;
  const Lexicon* lexicon_;
  CaptionVariantOptions variants_;
};

// The draw of record `index` at `step` of a run seeded `seed`: the same in every process and after a resume.
uint64_t caption_draw(uint64_t seed, int64_t step, int64_t index);

}  // namespace couture
