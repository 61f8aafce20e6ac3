// Tiny KoCLIP towers learn to match coloured squares with captions naming their colour: the contrastive loss falls
// clearly with either loss, and held-out retrieval works with the CLIP loss. Runs on LibTorch's default single
// thread, so that ctest -j2 does not oversubscribe the cores (about 20-40 s here).
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <iostream>

#include "models/clip.h"

namespace couture {
namespace {

constexpr int64_t kColours = 12, kSide = 32, kCls = 0, kSep = 2, kFirstColourToken = 3;
// Distinct colours a caption can name.
const float kPalette[kColours][3] = {{0.9f, 0.1f, 0.1f}, {0.1f, 0.7f, 0.1f}, {0.1f, 0.2f, 0.9f}, {0.95f, 0.9f, 0.1f},
                                     {0.9f, 0.5f, 0.1f}, {0.6f, 0.1f, 0.7f}, {0.1f, 0.8f, 0.8f}, {0.9f, 0.4f, 0.7f},
                                     {0.1f, 0.1f, 0.1f}, {0.5f, 0.5f, 0.5f}, {0.5f, 0.3f, 0.1f}, {0.3f, 0.3f, 0.6f}};

ClipConfig tiny(ClipLoss loss) {
  ClipConfig c = ClipConfig::preset("fmnist");
  c.image.width_multiplier = 0.25;
  c.image.depth_multiplier = 0.25;
  c.image.drop_path_rate = 0.0;
  c.image_size = kSide;
  c.text.hidden = 64;
  c.text.layers = 2;
  c.text.heads = 4;
  c.text.intermediate = 128;
  c.text.hidden_dropout = c.text.attention_dropout = 0.0;
  c.max_text_tokens = 8;
  c.set_vocab(kFirstColourToken + kColours + 3, 1);
  c.projection_dim = 32;
  c.loss = loss;
  return c;
}

struct Batch {
  at::Tensor images, ids;
};

// Every colour once, in a random order: a square of random size and place on a random light background.
Batch make_batch(at::Generator& gen) {
  auto order = at::randperm(kColours, gen, at::kLong);
  auto images = at::empty({kColours, 3, kSide, kSide});
  auto ids = at::empty({kColours, 6}, at::kLong);
  auto u = at::rand({kColours, 4}, gen);
  for (int64_t i = 0; i < kColours; ++i) {
    const int64_t colour = order[i].item<int64_t>();
    images[i].fill_(0.75 + 0.25 * u[i][0].item<double>());
    const int64_t size = 10 + int64_t(10 * u[i][1].item<double>());
    const int64_t x = int64_t((kSide - size) * u[i][2].item<double>()), y = int64_t((kSide - size) * u[i][3].item<double>());
    auto c = at::tensor(std::vector<float>(kPalette[colour], kPalette[colour] + 3)).view({3, 1, 1});
    images[i].slice(1, y, y + size).slice(2, x, x + size).copy_(c.expand({3, size, size}));
    // "[CLS] 상의에서 색상은 <colour> 이다. [SEP]" with fixed filler tokens around the colour.
    const int64_t filler = kFirstColourToken + kColours;
    ids[i].copy_(at::tensor({kCls, filler, filler + 1, kFirstColourToken + colour, filler + 2, kSep}, at::kLong));
  }
  return {images * 2 - 1, ids};  // the project's [-1,1] image range
}

struct Result {
  double first_loss, last_loss, accuracy;
};

Result train(ClipLoss loss_kind, int steps) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  Clip model(tiny(loss_kind));
  model->reset_parameters(gen);
  torch::optim::AdamW optimizer(model->parameters(),
                                torch::optim::AdamWOptions(2e-3).betas({0.9, 0.98}).eps(1e-6).weight_decay(0.2));
  model->train();
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    Batch b = make_batch(gen);
    auto images = augment_garments(b.images, gen);
    auto loss = model->loss(model->encode_text(b.ids), model->encode_image(images));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item<double>());
  }
  auto mean = [](auto begin, auto end) { return std::accumulate(begin, end, 0.0) / double(end - begin); };
  Result r{mean(losses.begin(), losses.begin() + 10), mean(losses.end() - 10, losses.end()), 0.0};

  // Held-out batches in eval mode: does each caption pick its own image among all colours?
  model->eval();
  torch::NoGradGuard no_grad;
  int correct = 0, total = 0;
  for (int k = 0; k < 5; ++k) {
    Batch b = make_batch(gen);
    auto scores = model->similarity(model->encode_text(b.ids), model->encode_image(b.images));
    correct += scores.argmax(1).eq(at::arange(kColours)).sum().item<int>();
    total += int(kColours);
  }
  r.accuracy = double(correct) / total;
  return r;
}

TEST(ClipLearns, ContrastiveLossFallsOnColouredSquares) {
  for (ClipLoss loss : {ClipLoss::Clip, ClipLoss::Kodalle}) {
    const auto start = std::chrono::steady_clock::now();
    Result r = train(loss, 300);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << clip_loss_name(loss) << " loss: first 10 steps " << r.first_loss << ", last 10 steps " << r.last_loss
              << " (chance " << std::log(double(kColours)) << "); held-out text->image accuracy " << r.accuracy
              << "; " << seconds << " s\n";
    EXPECT_LT(r.last_loss, 0.5 * r.first_loss) << clip_loss_name(loss);
    // Held-out retrieval (eval mode) is asserted for the default loss only, at 5x chance (0.67-0.78 seen): the
    // original's raw dot products, where embedding norms count, reach about 0.3 here, which is why it is not the
    // default.
    if (loss == ClipLoss::Clip) {
      EXPECT_GE(r.accuracy, 0.4) << "chance is " << 1.0 / kColours;
    }
  }
}

}  // namespace
}  // namespace couture
