#include "nn/taming_group_norm.h"

#include <ATen/Parallel.h>

#include <bit>
#include <vector>

namespace couture {

namespace {

// The loops below are written lane by lane (no reductions across iterations, conversions as integer arithmetic)
// so that GCC vectorises them; each kernel is compiled for AVX-512, AVX2 and baseline x86-64 and picked at load
// time (the project builds for baseline x86-64).
#define COUTURE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define COUTURE_INLINE inline __attribute__((always_inline))

constexpr int64_t kSpan = 4096;  // elements per partial sum (F32), partials combined in F64
constexpr int kLanes = 16;

COUTURE_INLINE float load(float v) { return v; }
COUTURE_INLINE float load(uint16_t bf16) { return std::bit_cast<float>(uint32_t(bf16) << 16); }
COUTURE_INLINE void store(float* p, float v) { *p = v; }
COUTURE_INLINE void store(uint16_t* p, float v) {  // round to nearest even; activations are finite
  const uint32_t u = std::bit_cast<uint32_t>(v);
  *p = uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// exp(x) as Cephes' expf: 2^n * p(r), r = x - n ln2; rounding to n by adding 1.5 * 2^23.
COUTURE_INLINE float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float t = x * 1.44269504088896341f + 12582912.0f;
  const float n = t - 12582912.0f;
  const int32_t ni = std::bit_cast<int32_t>(t) - 0x4B400000;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>(uint32_t(ni + 127) << 23);
}

COUTURE_INLINE float apply(float v, float scale, float shift, bool silu) {
  v = v * scale + shift;
  return silu ? v / (1.0f + exp_approx(-v)) : v;
}

// Channels-last rows [rows, C]: per-channel sums and sums of squares of x - origin (an origin near the mean keeps
// E[v^2] - E[v]^2 free of cancellation).
template <typename T>
COUTURE_INLINE void sums_rows(const T* x, int64_t rows, int64_t C, const float* origin, float* sum, float* sq) {
  for (int64_t c = 0; c < C; ++c) sum[c] = sq[c] = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const float v = load(row[c]) - origin[c];
      sum[c] += v;
      sq[c] += v * v;
    }
  }
}

// One contiguous span (NCHW): sum and sum of squares, kLanes partial accumulators.
template <typename T>
COUTURE_INLINE void sums_span(const T* x, int64_t n, float origin, float* sum, float* sq) {
  float s[kLanes] = {}, q[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float v = load(x[i + j]) - origin;
      s[j] += v;
      q[j] += v * v;
    }
  for (; i < n; ++i) {
    const float v = load(x[i]) - origin;
    s[0] += v;
    q[0] += v * v;
  }
  *sum = *sq = 0.0f;
  for (int j = 0; j < kLanes; ++j) {
    *sum += s[j];
    *sq += q[j];
  }
}

template <typename T>
COUTURE_INLINE void apply_rows(const T* x, T* y, int64_t rows, int64_t C, const float* scale, const float* shift,
                               bool silu) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) store(y + r * C + c, apply(load(x[r * C + c]), scale[c], shift[c], silu));
}

template <typename T>
COUTURE_INLINE void apply_span(const T* x, T* y, int64_t n, float scale, float shift, bool silu) {
  for (int64_t i = 0; i < n; ++i) store(y + i, apply(load(x[i]), scale, shift, silu));
}

COUTURE_CLONES void sums_rows_f32(const float* x, int64_t rows, int64_t C, const float* o, float* s, float* q) {
  sums_rows(x, rows, C, o, s, q);
}
COUTURE_CLONES void sums_rows_bf16(const uint16_t* x, int64_t rows, int64_t C, const float* o, float* s, float* q) {
  sums_rows(x, rows, C, o, s, q);
}
COUTURE_CLONES void sums_span_f32(const float* x, int64_t n, float o, float* s, float* q) { sums_span(x, n, o, s, q); }
COUTURE_CLONES void sums_span_bf16(const uint16_t* x, int64_t n, float o, float* s, float* q) {
  sums_span(x, n, o, s, q);
}
COUTURE_CLONES void apply_rows_f32(const float* x, float* y, int64_t rows, int64_t C, const float* a, const float* b,
                                   bool silu) {
  apply_rows(x, y, rows, C, a, b, silu);
}
COUTURE_CLONES void apply_rows_bf16(const uint16_t* x, uint16_t* y, int64_t rows, int64_t C, const float* a,
                                    const float* b, bool silu) {
  apply_rows(x, y, rows, C, a, b, silu);
}
COUTURE_CLONES void apply_span_f32(const float* x, float* y, int64_t n, float a, float b, bool silu) {
  apply_span(x, y, n, a, b, silu);
}
COUTURE_CLONES void apply_span_bf16(const uint16_t* x, uint16_t* y, int64_t n, float a, float b, bool silu) {
  apply_span(x, y, n, a, b, silu);
}

// Dispatch on the element type: float, or BF16 handled as its bits.
template <typename T>
struct Kernels;
template <>
struct Kernels<float> {
  static constexpr auto sums_rows = sums_rows_f32;
  static constexpr auto sums_span = sums_span_f32;
  static constexpr auto apply_rows = apply_rows_f32;
  static constexpr auto apply_span = apply_span_f32;
};
template <>
struct Kernels<uint16_t> {
  static constexpr auto sums_rows = sums_rows_bf16;
  static constexpr auto sums_span = sums_span_bf16;
  static constexpr auto apply_rows = apply_rows_bf16;
  static constexpr auto apply_span = apply_span_bf16;
};

template <typename T>
void run(const T* x, T* y, bool channels_last, int64_t B, int64_t C, int64_t HW, int64_t G, const float* weight,
         const float* bias, double eps, bool silu) {
  using K = Kernels<T>;
  // Origins: each (sample, channel)'s first value.
  std::vector<float> origin(size_t(B * C));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) origin[size_t(b * C + c)] = load(channels_last ? x[b * HW * C + c] : x[(b * C + c) * HW]);
  // Pass 1: partial sums in F32 over spans of about kSpan elements; chunk k of sample b covers rows (channels-last)
  // or a piece of one channel plane (NCHW).
  const int64_t rows_per_chunk = std::max<int64_t>(1, kSpan / C);
  const int64_t chunks_cl = (HW + rows_per_chunk - 1) / rows_per_chunk;
  const int64_t pieces = (HW + kSpan - 1) / kSpan;  // per plane, NCHW
  const int64_t chunks = channels_last ? B * chunks_cl : B * C * pieces;
  const int64_t width = channels_last ? C : 1;
  std::vector<float> sums(size_t(chunks * width)), squares(size_t(chunks * width));
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      if (channels_last) {
        const int64_t b = k / chunks_cl, r0 = (k % chunks_cl) * rows_per_chunk;
        const int64_t rows = std::min(rows_per_chunk, HW - r0);
        K::sums_rows(x + (b * HW + r0) * C, rows, C, &origin[size_t(b * C)], &sums[size_t(k * C)],
                     &squares[size_t(k * C)]);
      } else {
        const int64_t plane = k / pieces, i0 = (k % pieces) * kSpan;
        K::sums_span(x + plane * HW + i0, std::min(kSpan, HW - i0), origin[size_t(plane)], &sums[size_t(k)],
                     &squares[size_t(k)]);
      }
    }
  });
  // Per (sample, channel) mean and squared deviations in F64, combined per group (Chan et al.'s parallel
  // variance), folded into per (sample, channel) scale and shift.
  const int64_t Cg = C / G;
  std::vector<double> mean_c(size_t(B * C)), m2_c(size_t(B * C));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t c = 0; c < C; ++c) {
      double s = 0, q = 0;
      const int64_t n_chunks = channels_last ? chunks_cl : pieces;
      for (int64_t k = 0; k < n_chunks; ++k) {
        const size_t at = channels_last ? size_t((b * chunks_cl + k) * C + c) : size_t((b * C + c) * pieces + k);
        s += sums[at];
        q += squares[at];
      }
      const double n = double(HW);
      mean_c[size_t(b * C + c)] = origin[size_t(b * C + c)] + s / n;
      m2_c[size_t(b * C + c)] = std::max(0.0, q - s * s / n);
    }
  }
  std::vector<float> scale(size_t(B * C)), shift(size_t(B * C));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t g = 0; g < G; ++g) {
      double mean = 0, m2 = 0;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) mean += mean_c[size_t(b * C + c)] / double(Cg);
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) {
        const double d = mean_c[size_t(b * C + c)] - mean;
        m2 += m2_c[size_t(b * C + c)] + double(HW) * d * d;
      }
      const double rstd = 1.0 / std::sqrt(m2 / double(Cg * HW) + eps);
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) {
        scale[size_t(b * C + c)] = float(rstd * weight[c]);
        shift[size_t(b * C + c)] = float(bias[c] - mean * rstd * weight[c]);
      }
    }
  }
  // Pass 2: normalise, affine, SiLU.
  if (channels_last) {
    const int64_t rows_total = B * HW, rows_per_task = std::max<int64_t>(1, kSpan / C);
    at::parallel_for(0, (rows_total + rows_per_task - 1) / rows_per_task, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t r0 = t * rows_per_task, rows = std::min(rows_per_task, rows_total - r0);
        // Tasks never straddle samples when HW is a multiple of rows_per_task; handle the general case row-wise.
        for (int64_t r = r0; r < r0 + rows;) {
          const int64_t b = r / HW, run_rows = std::min(r0 + rows, (b + 1) * HW) - r;
          K::apply_rows(x + r * C, y + r * C, run_rows, C, &scale[size_t(b * C)], &shift[size_t(b * C)], silu);
          r += run_rows;
        }
      }
    });
  } else {
    at::parallel_for(0, B * C * pieces, 1, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t plane = k / pieces, i0 = (k % pieces) * kSpan;
        K::apply_span(x + plane * HW + i0, y + plane * HW + i0, std::min(kSpan, HW - i0), scale[size_t(plane)],
                      shift[size_t(plane)], silu);
      }
    });
  }
}

}  // namespace

bool fused_group_norm_supports(const at::Tensor& x, int64_t groups) {
  return x.defined() && x.device().is_cpu() && x.dim() == 4 &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) && groups > 0 &&
         x.size(1) % groups == 0 && x.numel() > 0 &&
         (x.is_contiguous() || x.is_contiguous(at::MemoryFormat::ChannelsLast));
}

at::Tensor fused_group_norm(const at::Tensor& x, int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                            double eps, bool silu) {
  const bool channels_last = !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t B = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  auto w = weight.to(at::kFloat).contiguous(), b = bias.to(at::kFloat).contiguous();
  auto y = at::empty_like(x, channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  if (x.scalar_type() == at::kFloat) {
    run(x.data_ptr<float>(), y.data_ptr<float>(), channels_last, B, C, HW, groups, w.data_ptr<float>(),
        b.data_ptr<float>(), eps, silu);
  } else {
    run(reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>()),
        reinterpret_cast<uint16_t*>(y.data_ptr<at::BFloat16>()), channels_last, B, C, HW, groups,
        w.data_ptr<float>(), b.data_ptr<float>(), eps, silu);
  }
  return y;
}

}  // namespace couture
