// Attribute-aware reranking's questions: for each attribute a prompt names, one template caption per value the
// bundle knows, which differ from each other in that attribute's sentence alone (a category's sentences all move to
// the part it is worn as, or the part name would give the answer away); an attribute the prompt leaves out is not
// asked. The scores' effect on the ranking is checked end to end in cli_generate_test.cpp.
#include <gtest/gtest.h>

#include "generate/attribute_rerank.h"

namespace couture {
namespace {

TEST(AttributeCaptions, OneTemplateCaptionPerValueDifferingInThatAttributeAlone) {
  const auto prompt = parse_prompt("빨간 줄무늬 티셔츠");
  const auto colours = attribute_captions(prompt, "색상", {"레드", "블루"});
  ASSERT_EQ(colours.size(), 2u);
  EXPECT_EQ(colours[0], "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다. 상의에서 프린트에는 스트라이프이다.");
  EXPECT_EQ(colours[1], "상의에서 색상은 블루이다. 상의에서 카테고리는 티셔츠이다. 상의에서 프린트에는 스트라이프이다.");

  const auto prints = attribute_captions(prompt, "프린트", {"무지", "스트라이프"});
  EXPECT_EQ(prints[0], "상의에서 색상은 레드이다. 상의에서 카테고리는 티셔츠이다. 상의에서 프린트에는 무지이다.");
}

TEST(AttributeCaptions, ACategoryMovesEverySentenceToItsPart) {
  const auto prompt = parse_prompt("네이비 체크 셔츠");
  const auto categories = attribute_captions(prompt, "카테고리", {"셔츠", "드레스", "팬츠"});
  ASSERT_EQ(categories.size(), 3u);
  EXPECT_EQ(categories[0], "상의에서 색상은 네이비이다. 상의에서 카테고리는 셔츠이다. 상의에서 프린트에는 체크이다.");
  EXPECT_EQ(categories[1], "원피스에서 색상은 네이비이다. 원피스에서 카테고리는 드레스이다. 원피스에서 프린트에는 체크이다.");
  EXPECT_EQ(categories[2], "하의에서 색상은 네이비이다. 하의에서 카테고리는 팬츠이다. 하의에서 프린트에는 체크이다.");
}

TEST(AttributeCaptions, OnlyTheAttributesAskedAreWrittenAroundTheQuestion) {
  // The colour question holds the category and the plain print a garment named without one has (the lexicon's
  // assumption); nothing else the parser read (a fit) is written.
  const auto prompt = parse_prompt("오버핏 블랙 코트");
  const auto colours = attribute_captions(prompt, "색상", {"블랙", "화이트"});
  EXPECT_EQ(colours[1], "아우터에서 색상은 화이트이다. 아우터에서 카테고리는 코트이다. 아우터에서 프린트에는 무지이다.");
  // The label template as written by the dataset gives the same questions as a free phrasing of it.
  const auto from_template = parse_prompt("아우터에서 색상은 블랙이다. 아우터에서 카테고리는 코트이다.");
  EXPECT_EQ(attribute_captions(from_template, "색상", {"블랙", "화이트"}), colours);
}

}  // namespace
}  // namespace couture
