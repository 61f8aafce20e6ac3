// The caption variants `eval clip` builds for per-attribute accuracy: each differs from the record's caption only in
// the attribute's sentence (a category moved to its own part moves every sentence), and none is made without one.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eval/clip_eval.h"

namespace couture {
namespace {

DatasetRecord fmnist_record() {
  DatasetRecord r;
  r.main_part = "하의";
  r.captions = {"하의에서 색상은 스카이블루이다. 하의에서 서브색상은 퍼플이다. 하의에서 카테고리는 팬츠이다. "
                "하의에서 프린트에는 도트이다.",
                "하의는 스카이블루 색상의 팬츠이다."};
  r.attributes = nlohmann::ordered_json::parse(
      R"({"하의": {"색상": "스카이블루", "서브색상": "퍼플", "카테고리": "팬츠", "프린트": ["도트"]}})");
  return r;
}

TEST(CaptionVariants, DifferOnlyInTheAttribute) {
  auto r = fmnist_record();
  auto colour = attribute_variants(r, "색상", {"레드", "스카이블루", "퍼플"});
  ASSERT_TRUE(colour);
  ASSERT_EQ(colour->captions.size(), 3u);  // the truth, then 레드 and 퍼플
  EXPECT_EQ(colour->captions[0], r.captions[0]);
  EXPECT_EQ(colour->values, (std::vector<std::string>{"스카이블루", "레드", "퍼플"}));
  EXPECT_EQ(colour->captions[1], "하의에서 색상은 레드이다. 하의에서 서브색상은 퍼플이다. 하의에서 카테고리는 팬츠이다. "
                                 "하의에서 프린트에는 도트이다.");
  // the sub-colour sentence keeps its value even when the variant's colour equals it
  EXPECT_NE(colour->captions[2].find("색상은 퍼플이다. 하의에서 서브색상은 퍼플이다."), std::string::npos);

  auto category = attribute_variants(r, "카테고리", {"팬츠", "스커트", "티셔츠"});
  ASSERT_TRUE(category);
  EXPECT_EQ(category->captions[1], "하의에서 색상은 스카이블루이다. 하의에서 서브색상은 퍼플이다. 하의에서 카테고리는 "
                                   "스커트이다. 하의에서 프린트에는 도트이다.");
  // A category of another part moves every sentence to that part, so the part name does not give the answer away.
  auto moved = attribute_variants(r, "카테고리", {"팬츠", "스커트", "티셔츠"}, {{"티셔츠", "상의"}, {"스커트", "하의"}});
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->captions[1], category->captions[1]);
  EXPECT_EQ(moved->captions[2], "상의에서 색상은 스카이블루이다. 상의에서 서브색상은 퍼플이다. 상의에서 카테고리는 "
                                "티셔츠이다. 상의에서 프린트에는 도트이다.");
  auto print = attribute_variants(r, "프린트", {"무지", "도트", "체크"});
  ASSERT_TRUE(print);
  EXPECT_EQ(print->captions.size(), 3u);
  EXPECT_NE(print->captions[1].find("하의에서 프린트에는 무지이다."), std::string::npos);
  EXPECT_EQ(print->captions[1].find("도트"), std::string::npos);

  EXPECT_FALSE(attribute_variants(r, "소재", {"울"}));  // the record has no such attribute
  r.captions[0] = "하의는 스카이블루 색상의 팬츠이다.";       // a caption without the sentence
  EXPECT_FALSE(attribute_variants(r, "색상", {"레드"}));
}

}  // namespace
}  // namespace couture
