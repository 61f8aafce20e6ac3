// Image codes from one caption: N candidates decoded together with a KV cache (the caption prefix is computed
// once and shared), candidate i drawing from its own generator seeded seed + i, so it is the same at batch 1 and
// batch 16. Temperature, top-k / top-p over the image vocabulary, the original `filter_thres`, classifier-free
// guidance, and priming with the first codes of an existing design (KoDALLE's `generate_images(img=...)`).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "models/dalle.h"

namespace couture {

struct SampleParams {
  int64_t n = 1;             // candidates
  uint64_t seed = 0;         // candidate i draws from a generator seeded seed + i
  double temperature = 1.0;  // 0: greedy (argmax; the filters below do not matter then)
  int64_t top_k = 0;         // keep the k most likely image codes (0: off)
  double top_p = 1.0;        // keep the smallest set holding this much probability (1: off)
  // The original's top-k: k = max(int((1 - thres) * all logits), 1), counted over the whole logit space (text
  // and image) as dalle_pytorch does, so 0.5 keeps every image code of the kodalle layout. < 0: off.
  double filter_thres = -1;
  double cond_scale = 1.0;   // guidance: null + (cond - null) * cond_scale; 1: off (needs text_pad_id)
  at::Tensor negative_text;  // [T] ids: with guidance, the caption steered away from instead of the null caption
  at::Tensor init_codes;     // [N] or [1, N]: codes of a design to vary
  int64_t num_init_codes = 0;  // its first codes kept, the rest generated
  bool use_cache = true;     // false: one full forward per step, as the original
};

// The original keeps int(0.4375 * N) codes of the priming image: 112 of 256 (OpenAI's 14 of 32 rows).
inline int64_t original_init_codes(int64_t image_seq_len) { return int64_t(0.4375 * double(image_seq_len)); }

// Called after each generated code with (done, total); returning false cancels the run.
using SampleProgress = std::function<bool(int64_t done, int64_t total)>;

struct SampleResult {
  at::Tensor codes;  // [n, N] int64 (valid only when not cancelled)
  bool cancelled = false;
};

// text: one caption of text_seq_len ids, [T] or [1, T]. The model runs in its weights' dtype (bf16 after
// set_weight_dtype) and in eval mode; its training flag is restored afterwards. Calls on one model in eval mode
// may run concurrently.
SampleResult sample_codes(Dalle& model, const at::Tensor& text, const SampleParams& params,
                          const SampleProgress& progress = {});

// Image logits [B, N, num_image_tokens] of known codes as decoding sees them: one code at a time through the KV
// cache (use_cache), or one full forward per step. For checking the cache against the full forward.
at::Tensor stepwise_image_logits(Dalle& model, const at::Tensor& text, const at::Tensor& codes, bool use_cache);

// The kept logits of each row (others -inf), divided by the temperature: filter_thres, then top_k, then top_p.
// total_logits is the size of the model's whole logit space (for filter_thres). Exposed for tests.
at::Tensor filter_logits(const at::Tensor& image_logits, const SampleParams& params, int64_t total_logits);

}  // namespace couture
