// A stand-in Generator for server and job-queue tests: garment-shaped images in the colour the prompt names
// (or one drawn from the seed), deterministic by seed + index, with progress callbacks, cancel, an optional
// gate that holds a job running until the test opens it, and failures on request.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "generate/generator.h"

namespace couture::testing {

// Holds running jobs until opened; waiting jobs still report progress, so cancel reaches them.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, d, [&] { return open_; });
  }
  std::atomic<int> waiting{0};  // jobs held at the gate now

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

struct FakeOptions {
  int image_size = 96;
  int steps = 16;                              // progress steps of the "sample" stage
  std::chrono::milliseconds step_delay{0};     // time per step
  std::shared_ptr<Gate> gate;                  // when set, jobs wait here (in "sample" step 0) until it opens
  std::string fail_on_prompt;                  // a prompt containing this fails with a runtime_error
  std::string input_error_on_prompt;           // ... or with an InputError
};

class FakeGenerator : public Generator {
 public:
  explicit FakeGenerator(FakeOptions options = {}) : o_(std::move(options)) {}

  std::atomic<int> calls{0};

  GenerateResult generate(const GenerateParams& p, const GenerateProgress& progress) override {
    ++calls;
    GenerateResult result;
    auto step = [&](const char* stage, int64_t done, int64_t total) {
      if (progress && !progress(stage, done, total)) result.cancelled = true;
      return !result.cancelled;
    };
    if (!o_.fail_on_prompt.empty() && p.prompt.find(o_.fail_on_prompt) != std::string::npos)
      throw std::runtime_error("the fake generator was told to fail");
    if (!o_.input_error_on_prompt.empty() && p.prompt.find(o_.input_error_on_prompt) != std::string::npos)
      throw InputError("init_codes: code 99999 is outside the codebook (16384 codes)");
    if (o_.gate) {
      ++o_.gate->waiting;
      bool opened = false;
      while (!opened) {
        if (!step("sample", 0, o_.steps)) break;
        opened = o_.gate->wait_for(std::chrono::milliseconds(5));
      }
      --o_.gate->waiting;
      if (result.cancelled) return result;
    }
    for (int s = 1; s <= o_.steps; ++s) {
      std::this_thread::sleep_for(o_.step_delay);
      if (!step("sample", s, o_.steps)) return result;
    }
    for (int i = 0; i < p.n; ++i) {
      Candidate c;
      c.index = i;
      c.seed = p.seed + uint64_t(i);
      c.codes = codes_for(p, c.seed);
      c.image = draw(p.prompt, c.codes);
      c.score = score_for(p.prompt, c.seed);
      result.candidates.push_back(std::move(c));
      if (!step("decode", i + 1, p.n)) return result;
    }
    std::stable_sort(result.candidates.begin(), result.candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    step("rerank", p.n, p.n);
    result.timings = {{"sample", 0.0}, {"decode", 0.0}, {"rerank", 0.0}};
    return result;
  }

  nlohmann::json describe() const override {
    return {{"name", "fake"}, {"image_size", o_.image_size}, {"code_grid", 4}};
  }

  static uint64_t mix(uint64_t x) {  // splitmix64
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }

 private:
  static uint64_t text_hash(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    return h;
  }

  static std::vector<int64_t> codes_for(const GenerateParams& p, uint64_t seed) {
    std::vector<int64_t> codes(16);
    size_t keep = p.init_codes.empty() ? 0 : p.num_init_codes ? size_t(p.num_init_codes) : p.init_codes.size() * 7 / 16;
    for (size_t i = 0; i < codes.size(); ++i)
      codes[i] = i < keep && i < p.init_codes.size() ? p.init_codes[i] : int64_t(mix(seed * 31 + i) % 1024);
    return codes;
  }

  static double score_for(const std::string& prompt, uint64_t seed) {
    return 0.15 + 0.2 * double(mix(text_hash(prompt) ^ seed) % 10000) / 10000.0;
  }

  // The colour the prompt names first (after 색상), else one from the codes.
  static void base_colour(const std::string& prompt, const std::vector<int64_t>& codes, uint8_t rgb[3]) {
    static const std::pair<const char*, uint32_t> palette[] = {
        {"스카이블루", 0x87c3f5}, {"화이트", 0xf0f0f0}, {"블랙", 0x232323}, {"그레이", 0x878787}, {"레드", 0xcd1e28},
        {"핑크", 0xf596b9},     {"오렌지", 0xfa8214}, {"베이지", 0xe1c8a0}, {"브라운", 0x7d4b28}, {"옐로우", 0xfad728},
        {"그린", 0x239141},     {"카키", 0x737337},   {"민트", 0x96e6c8},   {"블루", 0x1e50d2},   {"네이비", 0x19235f},
        {"퍼플", 0x7d32a0},     {"라벤더", 0xb9a5e6}, {"와인", 0x731432}};
    size_t from = prompt.find("색상은");
    from = from == std::string::npos ? 0 : from;
    size_t best = std::string::npos;
    uint32_t colour = uint32_t(mix(uint64_t(codes[0])) & 0xffffff);
    for (const auto& [name, value] : palette) {
      size_t at = prompt.find(name, from);
      if (at < best) best = at, colour = value;
    }
    rgb[0] = uint8_t(colour >> 16), rgb[1] = uint8_t(colour >> 8), rgb[2] = uint8_t(colour);
  }

  // A T-shirt silhouette with stripes whose period and shade follow the codes.
  Image draw(const std::string& prompt, const std::vector<int64_t>& codes) const {
    int size = o_.image_size;
    Image image = make_image(size, size, 3, 255);
    uint8_t rgb[3];
    base_colour(prompt, codes, rgb);
    int period = 6 + int(codes[1] % 10) * size / 96;
    double shade = 0.75 + 0.2 * double(codes[2] % 100) / 100.0;
    bool striped = prompt.find("스트라이프") != std::string::npos || codes[3] % 3 == 0;
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        double u = double(x) / size - 0.5, v = double(y) / size, a = std::abs(u);
        double shoulder = 0.14 + 0.25 * a;  // shoulders slope down to the sleeves
        bool body = a <= 0.21 && v > shoulder && v < 0.9;
        bool sleeve = a > 0.21 && a < 0.40 && v > shoulder && v < shoulder + 0.17;
        bool neck = (u / 0.09) * (u / 0.09) + ((v - 0.14) / 0.08) * ((v - 0.14) / 0.08) < 1;
        if (!(body || sleeve) || neck) continue;
        bool stripe = striped && (y / std::max(1, period)) % 2 == 1;
        uint8_t* px = image.at(x, y);
        for (int c = 0; c < 3; ++c)
          px[c] = stripe ? uint8_t(255 - (255 - rgb[c]) * 0.25) : uint8_t(std::min(255.0, rgb[c] * shade + 20));
      }
    }
    return image;
  }

  FakeOptions o_;
};

}  // namespace couture::testing
