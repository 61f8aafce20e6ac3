// What the DALL-E and the reranker read for a training record: the stored caption by default, captions drawn as
// designers write with `varied` (each one reads back to what it states), and hard negatives that differ from the
// truth in exactly the attribute they change.
#include "data/training_captions.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "text/prompt_parse.h"

using namespace couture;

namespace {

DatasetRecord striped_tshirt() {
  DatasetRecord r;
  r.index = 7, r.id = "r7", r.part = "상의", r.main_part = "상의";
  r.captions = {"상의에서 색상은 네이비이다. 상의에서 서브색상은 레드이다. 상의에서 카테고리는 티셔츠이다. "
                "상의에서 프린트에는 스트라이프이다.",
                "상의는 네이비 색상의 티셔츠이다."};
  r.category = "티셔츠", r.colour = "네이비", r.sub_colour = "레드", r.print = "스트라이프";
  r.attributes = {{"상의",
                   {{"색상", "네이비"}, {"서브색상", "레드"}, {"카테고리", "티셔츠"}, {"프린트", {"스트라이프"}}}}};
  return r;
}

TEST(TrainingCaptions, StoredModesKeepThePreparedCaptions) {
  const auto r = striped_tshirt();
  EXPECT_EQ(TrainingCaptions(CaptionMode::full).caption(r, 123).text, r.captions[0]);
  EXPECT_EQ(TrainingCaptions(CaptionMode::short_form).caption(r, 123).text, r.captions[1]);
  // Without a draw (validation, sample grids) every mode reads the stored full caption.
  EXPECT_EQ(TrainingCaptions(CaptionMode::varied).caption(r, std::nullopt).text, r.captions[0]);
  std::set<std::string> both;
  const TrainingCaptions drawn(CaptionMode::both);
  for (int64_t i = 0; i < 50; ++i) both.insert(drawn.caption(r, caption_draw(1, 1, i)).text);
  EXPECT_EQ(both.size(), 2u);
  EXPECT_THROW(parse_caption_mode("fancy"), InputError);
}

TEST(TrainingCaptions, VariedCaptionsDifferAndReadBackToWhatTheyState) {
  const auto r = striped_tshirt();
  const TrainingCaptions captions(CaptionMode::varied);
  std::set<std::string> texts;
  for (int64_t step = 1; step <= 300; ++step) {
    const uint64_t draw = caption_draw(1, step, r.index);
    const auto c = captions.caption(r, draw);
    EXPECT_EQ(c.text, captions.caption(r, draw).text) << "the same draw must give the same caption";
    texts.insert(c.text);
    const auto read = parse_prompt(c.text);
    for (const char* attribute : {"색상", "카테고리", "프린트"})
      EXPECT_EQ(read.value(attribute), c.expressed.first_value(attribute)) << c.text << " (" << attribute << ")";
  }
  EXPECT_GT(texts.size(), 50u) << "captions must vary from step to step";
}

TEST(TrainingCaptions, HardNegativesChangeExactlyOneAttribute) {
  const auto r = striped_tshirt();
  for (auto mode : {CaptionMode::full, CaptionMode::varied}) {
    const TrainingCaptions captions(mode);
    int made = 0;
    for (int64_t step = 1; step <= 100; ++step) {
      const uint64_t draw = caption_draw(3, step, r.index);
      const auto truth = parse_prompt(captions.caption(r, draw).text);
      for (auto [attribute, value] : {std::pair{"색상", "그린"}, std::pair{"프린트", "도트"}}) {
        const auto negative = captions.with_value(r, draw, attribute, value);
        if (!negative) continue;  // the draw left the attribute out
        ++made;
        const auto read = parse_prompt(*negative);
        EXPECT_EQ(read.value(attribute), value) << *negative;
        for (const char* other : {"색상", "카테고리", "프린트"})
          if (std::string(other) != attribute) {
            EXPECT_EQ(read.value(other), truth.value(other)) << *negative;
          }
      }
    }
    EXPECT_GT(made, 100) << caption_mode_name(mode);
  }
}

TEST(TrainingCaptions, ACategoryOfAnotherPartMovesTheGarment) {
  const auto r = striped_tshirt();
  const auto negative = TrainingCaptions(CaptionMode::full).with_value(r, 1, "카테고리", "드레스");
  ASSERT_TRUE(negative);
  EXPECT_EQ(negative->find("상의"), std::string::npos) << *negative;
  EXPECT_NE(negative->find("원피스에서 카테고리는 드레스이다."), std::string::npos) << *negative;
}

}  // namespace
