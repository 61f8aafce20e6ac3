// Reading a free-form Korean prompt ("네이비 바탕에 레드 줄무늬 셔츠", "노란 땡땡이 원피스", or the label template
// "상의에서 색상은 레드이다. ...") into the garment attributes it names, with a Lexicon. Rules in docs/text.md:
// words split at whitespace and punctuation; each word is lexicon words followed by a particle or ending
// ("빨간색이", "반팔티셔츠입니다"); two to four adjacent words may form one lexicon word ("스카이 블루");
// attribute names and a few function words steer which attribute an ambiguous word means. One garment per prompt.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "text/kfashion_labels.h"
#include "text/lexicon.h"

namespace couture {

struct ParsedPrompt {
  // The garment understood: name is its part (상의, 하의, 아우터 or 원피스; "" when nothing says), attributes in
  // K-Fashion's label order (기장, 색상, 서브색상, 카테고리, 디테일, 소매기장, 소재, 프린트, 넥라인, 칼라, 핏,
  // 스타일) with canonical values; 색상 is the main colour, 서브색상 the second (of a print).
  kfashion::Part garment;
  std::vector<std::string> assumed;       // attributes not named, read as the lexicon assumes (프린트: 무지)
  std::vector<std::string> unrecognized;  // words not understood, as written
  std::vector<std::string> ignored;       // understood but unused: fillers, another garment, a third colour

  std::string value(std::string_view attribute) const { return garment.first_value(attribute); }
  bool empty() const { return garment.attributes.empty(); }
  // {"part": "상의" or null, "attributes": {"색상": "레드", "프린트": ["스트라이프"], ...},
  //  "assumed": ["프린트"], "unrecognized": [...], "ignored": [...]}; list attributes (디테일, 소재, 프린트) as lists.
  nlohmann::ordered_json to_json() const;
};

// The label-template caption of what was understood (template_caption of the garment, its 스타일 left out as
// training captions leave it): the form every training caption takes, so that the models read a free-form prompt
// as they learnt. "빨간 줄무늬 티셔츠" -> "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다. 상의에서
// 프린트에는 스트라이프이다."; a template caption gives itself back. `learnt`, when not empty, keeps only those
// attributes (서브색상 goes with 색상): sentences about attributes the models never read in training ("반팔" as
// 소매기장 for a bundle trained on category, colour and print) would only confuse them. "" when no garment part, or
// none of its attributes, was understood.
std::string understood_caption(const ParsedPrompt& parsed, const std::vector<std::string>& learnt = {});

// The longest prompt read, as the tokenizer's default limit.
inline constexpr size_t kMaxPromptBytes = 16384;

// Never throws for valid UTF-8 up to kMaxPromptBytes (a prompt with nothing recognised gives empty attributes and
// every word unrecognised); invalid UTF-8 or a longer text is a couture::InputError.
ParsedPrompt parse_prompt(std::string_view text, const Lexicon& lexicon = default_lexicon());

}  // namespace couture
