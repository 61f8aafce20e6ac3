// Korean captions from K-Fashion labels, following DESIGN.md's template: one sentence per attribute in label order,
// `{part}에서 {attr}은/는 {value}이다.` (에는 for list attributes), and the short form per part
// (`아우터는 화이트 색상의 재킷이다.`) after the original KoDALLE's caption_small.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "text/kfashion_labels.h"

namespace couture::kfashion {

enum class CaptionCompat {
  couture,  // every value of a list attribute, joined by ", " in one sentence
  kodalle,  // the original's behaviour: the last value only
};

struct CaptionOptions {
  CaptionCompat compat = CaptionCompat::couture;
  bool keep_style = false;  // style sentences in the full caption
};

// True when the last character is a Hangul syllable with a final consonant (받침).
bool has_final_consonant(std::string_view word);
// 은 after a final consonant, else 는 (also after anything that is not a Hangul syllable).
const char* topic_particle(std::string_view word);

// `{part}에서 {attr}은 {value}이다.`; "" when the attribute has no value.
std::string attribute_sentence(const std::string& part, const Attribute& attribute, CaptionCompat compat);

// The full caption: every attribute sentence of the parts named in `only` (all parts when empty), in label order,
// joined by single spaces. Style sentences only with keep_style.
std::string full_caption(const Label& label, const CaptionOptions& options, const std::vector<std::string>& only = {});

// The short form: `스타일은 로맨틱이다.` then per garment part `{part}는 {색상} 색상의 {카테고리}이다.`
// (`{part}는 {카테고리}이다.` without a colour, `{part}는 {색상} 색상이다.` without a category). The style sentence
// is part of the short form of a whole outfit (only empty), as in the original.
std::string short_caption(const Label& label, const std::vector<std::string>& only = {});

}  // namespace couture::kfashion
