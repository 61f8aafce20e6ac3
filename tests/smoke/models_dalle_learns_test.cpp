// A tiny DALL-E learns: on a few fixed batches where each caption stands for one code sequence, the loss falls
// and greedy sampling from a caption writes back most of its codes.
#include <gtest/gtest.h>

#include <torch/optim/adam.h>

#include <cstdio>

#include "models/dalle.h"
#include "models/dalle_sampling.h"

using namespace couture;

TEST(DalleLearns, LossFallsAndCaptionsBringBackTheirCodes) {
  DalleConfig c = DalleConfig::preset("fmnist");
  c.num_text_tokens = 30, c.text_seq_len = 5, c.text_pos_len = 6, c.dim = 64, c.depth = 2, c.heads = 4;
  c.dim_head = 16, c.image_fmap_size = 4, c.num_image_tokens = 32, c.reversible = true, c.text_pad_id = 1;
  c.null_caption_prob = 0.1;
  torch::manual_seed(0);
  Dalle model(c);
  const int64_t designs = 8;
  auto text = at::randint(3, 30, {designs, 5}, at::kLong);
  text.narrow(1, 3, 2).fill_(1);  // trailing pads, as real captions have
  auto codes = at::randint(32, {designs, 16}, at::kLong);

  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  double first = 0, last = 0;
  model->train();
  for (int step = 0; step < 150; ++step) {
    auto loss = model->loss(text, codes, generator).loss;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  SampleParams greedy;
  greedy.temperature = 0;
  int64_t right = 0;
  for (int64_t i = 0; i < designs; ++i) right += sample_codes(model, text[i], greedy).codes[0].eq(codes[i]).sum().item<int64_t>();
  const double recalled = double(right) / double(codes.numel());
  std::printf("loss %.3f -> %.3f after 150 steps; greedy codes recalled %.0f%%\n", first, last, 100 * recalled);
  EXPECT_LT(last, 0.3 * first);
  EXPECT_GT(recalled, 0.8);
}
