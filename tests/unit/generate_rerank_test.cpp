// The reranker: best-first order (ties stable, NaN last), scores that equal the model's own similarity for every
// input form (decoded images, uint8 HWC, float at another size), loading a run folder; attribute reranking's
// probabilities (a distribution over the bundle's values, only for attributes asked and known). The caption variants of
// `eval clip` are in eval_clip_variants_test.cpp.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "io/image.h"
#include "generate/attribute_rerank.h"
#include "generate/rerank.h"
#include "support/temp_dir.h"
#include "text/wordpiece.h"

namespace couture {
namespace {

TEST(RankOrder, BestFirstTiesStableNanLast) {
  auto order = rank_order(at::tensor({0.1, 0.9, NAN, 0.5, 0.9}));
  EXPECT_EQ(order, (std::vector<int64_t>{1, 4, 3, 0, 2}));
  EXPECT_TRUE(rank_order(at::empty({0})).empty());
}

Vocab small_vocab() {
  Vocab v;
  v.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "상의", "##에서", "색상", "##은", "레드", "블루", "##이다", "."};
  v.added_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  v.source = "test vocab";
  return v;
}

// A tiny CLIP with seeded weights and BatchNorm statistics from one batch.
Clip tiny_model(int64_t vocab_size) {
  ClipConfig c = ClipConfig::preset("tiny");
  c.set_vocab(vocab_size, 0);
  Clip m(c);
  m->reset_parameters(at::make_generator<at::CPUGeneratorImpl>(7));
  torch::NoGradGuard g;
  m->train();
  m->encode_image(at::rand({8, 3, 32, 32}, at::make_generator<at::CPUGeneratorImpl>(8)) * 2 - 1);
  m->eval();
  return m;
}

std::vector<Image> coloured_images() {
  std::vector<Image> out;
  for (int k = 0; k < 4; ++k) {
    Image im = make_image(40, 40, 3, 255);
    for (int y = 8; y < 32; ++y)
      for (int x = 8 + k; x < 30; ++x) {
        im.at(x, y)[0] = uint8_t(60 * k), im.at(x, y)[1] = uint8_t(200 - 40 * k), im.at(x, y)[2] = 90;
      }
    out.push_back(im);
  }
  return out;
}

TEST(ClipScorer, ScoresAreTheModelsSimilarityInEveryInputForm) {
  testing::TempDir dir;
  Vocab vocab = small_vocab();
  write_vocab_txt(dir / "run/vocab.txt", vocab);
  Clip model = tiny_model(int64_t(vocab.tokens.size()));
  save_clip(dir / "run/clip.safetensors", *model);
  ClipScorer scorer = ClipScorer::load(dir / "run");
  EXPECT_EQ(scorer.config().preset_name, "tiny");

  const std::string caption = "상의에서 색상은 레드이다.";
  auto images = coloured_images();
  auto scores = scorer.score(caption, images);
  ASSERT_EQ(scores.sizes(), (at::IntArrayRef{4}));

  // The same numbers by hand: tokenise, encode both towers, cosine.
  torch::NoGradGuard g;
  auto tok = WordPieceTokenizer::load(dir / "run/vocab.txt");
  auto t = tokenize_captions(tok, {caption}, 64);
  EXPECT_EQ(t.ids.size(1), 9);  // [CLS] 상의 ##에서 색상 ##은 레드 ##이다 . [SEP]
  auto expected = model->similarity(model->encode_text(t.ids, t.mask),
                                    model->encode_image(resize_to_batch(images, 32)))[0];
  EXPECT_TRUE(at::allclose(scores, expected, 1e-5, 1e-6)) << scores << expected;
  EXPECT_LE(scores.abs().max().item<double>(), 1.0 + 1e-6);  // cosines

  // uint8 HWC and float [-1,1] at the model's size give the same scores as decoded images.
  std::vector<at::Tensor> hwc;
  for (auto& im : images) hwc.push_back(at::from_blob(im.pixels.data(), {40, 40, 3}, at::kByte).clone());
  auto resized = resize_to_batch(images, 32);
  EXPECT_TRUE(at::allclose(scorer.score(caption, resized), scores, 1e-5, 1e-6));
  auto from_u8 = scorer.score(caption, at::stack(hwc));  // resized by interpolation: close, not equal
  EXPECT_GT(at::cosine_similarity(from_u8, scores, 0).item<double>(), 0.99);

  // The order follows the scores; the image scored best, repeated, ties with itself and keeps input order.
  auto order = rank_order(scores);
  for (size_t i = 1; i < order.size(); ++i)
    EXPECT_GE(scores[order[i - 1]].item<double>(), scores[order[i]].item<double>());
  std::vector<Image> twice = {images[size_t(order[0])], images[size_t(order[3])], images[size_t(order[0])]};
  EXPECT_EQ(rank_order(scorer.score(caption, twice)), (std::vector<int64_t>{0, 2, 1}));

  // bf16 keeps the order of clearly separated scores and the values to about 1%.
  ClipScorer bf16 = ClipScorer::load(dir / "run", {}, {.bf16 = true});
  EXPECT_LT((bf16.score(caption, images) - scores).abs().max().item<double>(), 0.05);
}

TEST(ClipScorer, RefusesAMismatchedVocabularyAndMissingFiles) {
  testing::TempDir dir;
  Vocab vocab = small_vocab();
  write_vocab_txt(dir / "run/vocab.txt", vocab);
  Clip model = tiny_model(int64_t(vocab.tokens.size()) + 3);
  save_clip(dir / "run/clip.safetensors", *model);
  try {
    ClipScorer::load(dir / "run");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("trained with 16 tokens"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ClipScorer::load(dir / "none"), InputError);
}

// For each attribute asked whose value the bundle knows: p(value | image), a distribution over the known values
// (asking each value in turn gives probabilities that sum to 1 per image); the total is the sum of their logs.
TEST(AttributeRerank, ProbabilitiesOverTheKnownValuesForTheAttributesAsked) {
  testing::TempDir dir;
  Vocab vocab = small_vocab();
  write_vocab_txt(dir / "run/vocab.txt", vocab);
  save_clip(dir / "run/clip.safetensors", *tiny_model(int64_t(vocab.tokens.size())));
  ClipScorer scorer = ClipScorer::load(dir / "run");
  const at::Tensor embeddings = scorer.encode_images(coloured_images());
  const AttributeValues known = {{"색상", {"레드", "블루", "그린"}}, {"카테고리", {"티셔츠", "드레스"}},
                                 {"프린트", {"무지", "체크"}}};

  at::Tensor sum = torch::zeros({4}, torch::kDouble);
  for (const char* prompt : {"빨간 티셔츠", "파란 티셔츠", "초록 티셔츠"}) {
    const auto r = attribute_rerank(scorer, parse_prompt(prompt), known, embeddings);
    // Category and colour as named; no print named, so the plain one the lexicon assumes.
    ASSERT_EQ(r.readings.size(), 3u) << prompt;
    EXPECT_EQ(r.readings[0].attribute, "카테고리");
    EXPECT_EQ(r.readings[1].attribute, "색상");
    EXPECT_EQ(r.readings[2].attribute, "프린트");
    EXPECT_EQ(r.readings[2].value, "무지");
    const at::Tensor p = r.readings[1].probability;
    EXPECT_TRUE((p > 0).all().item<bool>() && (p < 1).all().item<bool>()) << p;
    sum += p;
    EXPECT_TRUE(at::allclose(r.log_probability,
                             r.readings[0].probability.log() + p.log() + r.readings[2].probability.log()));
  }
  EXPECT_TRUE(at::allclose(sum, torch::ones({4}, torch::kDouble))) << sum;

  // A value the bundle never learnt, or an attribute with one known value, asks nothing.
  EXPECT_TRUE(attribute_rerank(scorer, parse_prompt("보라색 티셔츠"), {{"색상", {"레드", "블루"}}}, embeddings)
                  .readings.empty());
  const auto none = attribute_rerank(scorer, parse_prompt("빨간 티셔츠"), {{"색상", {"레드"}}}, embeddings);
  EXPECT_TRUE(none.readings.empty());
  EXPECT_TRUE(none.log_probability.eq(0).all().item<bool>());
}

}  // namespace
}  // namespace couture
