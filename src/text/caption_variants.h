// Training captions as designers write them, drawn from a garment's labels and the lexicon: the label template
// ("상의에서 색상은 레드이다. ..."), a noun phrase ("빨간 줄무늬 반팔 티"), a sentence ("줄무늬가 들어간 빨간색
// 티셔츠입니다.") or a comma list ("티셔츠, 레드, 스트라이프 패턴"), with synonyms, some attributes left out and now
// and then a filler word that means nothing, so that a model trained on them reads free-form prompts. Every caption
// parses back (text/prompt_parse.h) to the attributes it states. Seeded: the same seed gives the same caption.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string>
#include <vector>

#include "text/kfashion_labels.h"
#include "text/lexicon.h"

namespace couture {

struct CaptionVariantOptions {
  // Relative weights of the four forms (CaptionForm).
  double template_weight = 0.2, phrase_weight = 0.3, sentence_weight = 0.3, list_weight = 0.2;
  double drop_probability = 0.15;        // each attribute left out, independently; never all of them, never a
                                         // print other than 무지 (an unnamed print reads as plain)
  double label_word_probability = 0.35;  // the label itself ("레드") rather than another of its words
  double latin_word_probability = 0.05;  // an English word ("navy") may be drawn; Korean prompts rarely have them
  bool fillers = true;                   // now and then one word that carries no attribute ("데일리", "예쁜")
  double filler_probability = 0.1;
  double part_word_probability = 0.1;  // a sentence that names the part ("상의는 ...")
  double join_probability = 0.1;       // a print or category written onto the word before ("반팔티셔츠")
};

enum class CaptionForm { label_template, noun_phrase, sentence, comma_list };
const char* caption_form_name(CaptionForm form);  // "template", "phrase", "sentence", "list"

struct CaptionVariant {
  std::string text;
  CaptionForm form = CaptionForm::label_template;
  // The attributes the caption states (the dropped ones left out), with canonical values (lexicon.canonical).
  kfashion::Part expressed;
};

// One caption for one garment part (상의, 하의, 아우터 or 원피스 with its attributes). A sub-colour is only stated
// with its main colour, and with the print it colours when the part has one. An empty part gives an empty text.
CaptionVariant draw_caption(const kfashion::Part& part, const Lexicon& lexicon, std::mt19937_64& rng,
                            const CaptionVariantOptions& options = {});
CaptionVariant draw_caption(const kfashion::Part& part, const Lexicon& lexicon, uint64_t seed,
                            const CaptionVariantOptions& options = {});

// The label template of one part: kfashion::attribute_sentence for each attribute, joined by spaces.
std::string template_caption(const kfashion::Part& part);

// A part from a record's {attribute: value or [values]} object (DatasetRecord.attributes[part]); values are kept as
// written. couture::InputError when it is not an object of text or lists of text.
kfashion::Part part_from_json(const std::string& name, const nlohmann::ordered_json& attributes);
// Every non-empty part of a record's {part: {attribute: ...}} object, in its order.
std::vector<kfashion::Part> parts_from_json(const nlohmann::ordered_json& by_part);

}  // namespace couture
