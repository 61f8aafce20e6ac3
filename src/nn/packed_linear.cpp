#include "nn/packed_linear.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.h"

namespace couture {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dt dnnl_type(at::ScalarType type) {
  COUTURE_CHECK(type == at::kFloat || type == at::kBFloat16, "packed linear: unsupported dtype ", type);
  return type == at::kFloat ? dt::f32 : dt::bf16;
}

}  // namespace

// The weight is packed once, into the layout the kernel for M = 16 (a decoding step's batch) prefers; the kernel
// for each other M is made on first use for that same layout, so one packed copy serves every batch size and the
// plain weight is not kept.
struct PackedLinear::Impl {
  at::Tensor bias;  // [1, N] fp32
  Epilogue epilogue;
  at::ScalarType in_dtype, out_dtype;
  bool int8 = false;
  at::Tensor weight_scales;  // int8: [N] fp32, w ~= scale * int8
  int64_t N, K;
  dnnl::memory packed;
  mutable std::mutex mutex;
  mutable std::map<int64_t, dnnl::matmul> kernels;

  // int8 products scale their int32 sums back by a post-op (a product by the per-output scales, x's folded in):
  // oneDNN's runtime output scales would send the product to its slower gemm kernel instead of the brgemm one. The
  // bias then follows as a post-op (as oneDNN's bias it would be added before the scales), then the epilogue.
  int first_epilogue_op() const { return int8 ? (bias.defined() ? 2 : 1) : 0; }

  dnnl::matmul::primitive_desc describe(int64_t M, const dnnl::memory::desc& weights) const {
    const dnnl::memory::desc src({M, K}, int8 ? dt::s8 : dnnl_type(in_dtype), tag::ab);
    const dnnl::memory::desc bias_md({1, N}, dt::f32, tag::ab);
    const dnnl::memory::desc dst({M, N}, dnnl_type(out_dtype), tag::ab);
    dnnl::post_ops ops;
    dnnl::primitive_attr attr;
    if (int8) {
      ops.append_binary(dnnl::algorithm::binary_mul, dnnl::memory::desc({1, N}, dt::f32, tag::ab));
      if (bias.defined()) ops.append_binary(dnnl::algorithm::binary_add, bias_md);
    }
    if (epilogue == Epilogue::gelu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    if (epilogue == Epilogue::times)
      ops.append_binary(dnnl::algorithm::binary_mul, dnnl::memory::desc({M, N}, dt::f32, tag::ab));
    if (epilogue == Epilogue::residual) {
      ops.append_binary(dnnl::algorithm::binary_mul, dnnl::memory::desc({1, N}, dt::f32, tag::ab));
      ops.append_sum(1.f);
    }
    attr.set_post_ops(ops);
    const bool plain_bias = bias.defined() && !int8;
    return dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(src, weights, plain_bias ? bias_md : dnnl::memory::desc(), dst), attr, cpu_engine());
  }

  void pack(const at::Tensor& weight) {
    const dt stored = int8 ? dt::s8 : dnnl_type(in_dtype);
    const auto pd = describe(16, dnnl::memory::desc({K, N}, stored, tag::any));
    auto& engine = cpu_engine();
    // weight [N, K] row-major is W^T [K, N] in column-major ("ba") order.
    dnnl::memory source({{K, N}, stored, tag::ba}, engine, weight.data_ptr());
    packed = dnnl::memory(pd.weights_desc(), engine);
    dnnl::stream stream(engine);
    dnnl::reorder(source, packed).execute(stream, source, packed);
    stream.wait();
    kernels.emplace(16, dnnl::matmul(pd));
  }

  const dnnl::matmul& kernel(int64_t M) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = kernels.find(M);
    if (it == kernels.end()) it = kernels.emplace(M, dnnl::matmul(describe(M, packed.get_desc()))).first;
    return it->second;
  }
};

namespace {

// Symmetric int8 of each row of a weight [N, K]: returns the int8 weight and writes the rows' scales.
at::Tensor quantize_rows(const at::Tensor& weight, at::Tensor& scales) {
  auto w = weight.to(at::kFloat);
  scales = (w.abs().amax(1) / 127.0).clamp_min(1e-12).contiguous();
  return (w / scales.unsqueeze(1)).round().clamp(-127, 127).to(at::kChar).contiguous();
}

// Symmetric int8 of a whole input with one scale (max |x| -> 127) into `out`; returns the scale (1 for all zeros).
template <typename T>
float quantize_input(const T* x, int64_t n, int8_t* out) {
  float amax = 0.f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(float(x[i])));
  if (!(amax > 0.f) || !std::isfinite(amax)) amax = 127.f;
  const float inv = 127.f / amax;
  for (int64_t i = 0; i < n; ++i) out[i] = int8_t(std::lrint(std::clamp(float(x[i]) * inv, -127.f, 127.f)));
  return amax / 127.f;
}

}  // namespace

PackedLinear::PackedLinear() = default;
PackedLinear::~PackedLinear() = default;
PackedLinear::PackedLinear(PackedLinear&&) noexcept = default;
PackedLinear& PackedLinear::operator=(PackedLinear&&) noexcept = default;

PackedLinear::PackedLinear(const at::Tensor& weight, const at::Tensor& bias, Epilogue epilogue,
                           at::ScalarType out_dtype, Weights stored)
    : impl_(std::make_unique<Impl>()) {
  COUTURE_CHECK(weight.dim() == 2, "packed linear: weight must be 2-D, got ", weight.sizes());
  COUTURE_CHECK(available(weight.scalar_type(), stored), "packed linear: no packed kernel for ", weight.scalar_type(),
                stored == Weights::int8 ? " with int8 weights" : "");
  COUTURE_CHECK(epilogue != Epilogue::residual || out_dtype == at::kFloat, "packed linear: residual output is fp32");
  Impl& m = *impl_;
  m.N = weight.size(0);
  m.K = weight.size(1);
  if (bias.defined()) {
    COUTURE_CHECK(bias.numel() == m.N, "packed linear: bias of ", bias.numel(), " values for ", m.N, " outputs");
    m.bias = bias.detach().to(at::kFloat).contiguous().view({1, m.N});
  }
  m.epilogue = epilogue;
  m.in_dtype = weight.scalar_type();
  m.out_dtype = out_dtype;
  m.int8 = stored == Weights::int8;
  if (m.int8)
    m.pack(quantize_rows(weight.detach(), m.weight_scales));
  else
    m.pack(weight.detach().contiguous());
}

bool PackedLinear::int8() const { return impl_ && impl_->int8; }

at::Tensor PackedLinear::operator()(const at::Tensor& x, const at::Tensor& operand, at::Tensor out) const {
  const Impl& m = *impl_;
  COUTURE_CHECK(x.dim() == 2 && x.size(1) == m.K && x.scalar_type() == m.in_dtype && x.is_contiguous(),
                "packed linear: input must be a contiguous [M, ", m.K, "] ", m.in_dtype, " tensor, got ", x.sizes(),
                " ", x.scalar_type());
  const int64_t M = x.size(0);
  const auto& kernel = m.kernel(M);
  auto& engine = cpu_engine();
  if (m.epilogue == Epilogue::residual) {
    COUTURE_CHECK(out.defined() && out.scalar_type() == at::kFloat && out.is_contiguous() && out.numel() == M * m.N,
                  "packed linear: the residual must be a contiguous fp32 [", M, ", ", m.N, "] tensor");
    COUTURE_CHECK(operand.numel() == m.N && operand.scalar_type() == at::kFloat && operand.is_contiguous(),
                  "packed linear: the residual scale must be ", m.N, " contiguous fp32 values");
  } else {
    out = at::empty({M, m.N}, x.options().dtype(m.out_dtype));
  }
  if (m.epilogue == Epilogue::times)
    COUTURE_CHECK(operand.sizes() == out.sizes() && operand.scalar_type() == at::kFloat && operand.is_contiguous(),
                  "packed linear: the multiplier must be a contiguous fp32 ", out.sizes(), " tensor");
  at::Tensor quantized, scales;  // int8: x as int8, and the products' scales (x's times each output's)
  if (m.int8) {
    quantized = at::empty({M, m.K}, x.options().dtype(at::kChar));
    const float sx = x.scalar_type() == at::kFloat
                         ? quantize_input(x.data_ptr<float>(), x.numel(), quantized.data_ptr<int8_t>())
                         : quantize_input(x.data_ptr<at::BFloat16>(), x.numel(), quantized.data_ptr<int8_t>());
    scales = m.weight_scales * sx;
  }
  dnnl::memory src({{M, m.K}, m.int8 ? dt::s8 : dnnl_type(m.in_dtype), tag::ab}, engine,
                   m.int8 ? quantized.data_ptr() : x.data_ptr());
  dnnl::memory dst({{M, m.N}, dnnl_type(m.out_dtype), tag::ab}, engine, out.data_ptr());
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, m.packed}, {DNNL_ARG_DST, dst}};
  if (m.int8)
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                 dnnl::memory({{1, m.N}, dt::f32, tag::ab}, engine, scales.data_ptr()));
  if (m.bias.defined()) {
    dnnl::memory bias({{1, m.N}, dt::f32, tag::ab}, engine, m.bias.data_ptr());
    args.emplace(m.int8 ? DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1 : DNNL_ARG_BIAS, bias);
  }
  const int op = m.first_epilogue_op();
  if (m.epilogue == Epilogue::times)
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(op) | DNNL_ARG_SRC_1,
                 dnnl::memory({{M, m.N}, dt::f32, tag::ab}, engine, operand.data_ptr()));
  if (m.epilogue == Epilogue::residual)
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(op) | DNNL_ARG_SRC_1,
                 dnnl::memory({{1, m.N}, dt::f32, tag::ab}, engine, operand.data_ptr()));
  thread_local dnnl::stream stream(engine);
  kernel.execute(stream, args);
  stream.wait();
  return out;
}

bool PackedLinear::available(at::ScalarType weight_dtype, Weights stored) {
  if (weight_dtype != at::kFloat && weight_dtype != at::kBFloat16) return false;
  // Only where oneDNN has an optimised kernel for this CPU: its reference kernels ("ref:...", e.g. bf16 without
  // AVX-512) are far slower than LibTorch's own path.
  auto optimised = [](dt type) {
    try {
      const dnnl::memory::desc a({16, 64}, type, tag::ab), b({64, 64}, type, tag::any);
      dnnl::primitive_attr attr;
      dnnl::post_ops ops;  // as the int8 products scale their sums back
      if (type == dt::s8) ops.append_binary(dnnl::algorithm::binary_mul, dnnl::memory::desc({1, 64}, dt::f32, tag::ab));
      attr.set_post_ops(ops);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, dnnl::memory::desc({16, 64}, dt::f32, tag::ab)),
                                      attr, cpu_engine());
      return std::string(pd.impl_info_str()).rfind("ref", 0) != 0;
    } catch (const dnnl::error&) {
      return false;
    }
  };
  static const bool fp32 = optimised(dt::f32), bf16 = optimised(dt::bf16), s8 = optimised(dt::s8);
  if (stored == Weights::int8) return s8;
  return weight_dtype == at::kFloat ? fp32 : bf16;
}

}  // namespace couture
