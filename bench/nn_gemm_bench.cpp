// The machine's matrix-product speed, measured first by scripts/bench so every other figure can be read against
// it: a square N x N x N matmul (N 2048; GFLOP/s = 2 N^3 / s, the machine line's figure) and a 4096 -> 4096 linear
// layer at batch 16 (the shape of a transformer's weights at sampling time: bound by reading the weights), in fp32
// and bf16. Quality: each product's relative error against fp64 on its first 64 rows. Then the products of a
// transformer's decoding step on packed weights (nn/packed_linear.h): batch 16, 1024 -> 4096 (a feed-forward half),
// weights as given in fp32 and bf16 and stored as int8, cycling through 16 layers' worth of weights so that they
// come from memory as in sampling, not from the cache.
#include <thread>

#include "bench_common.h"
#include "core/threads.h"
#include "nn/packed_linear.h"
#include "nn/threads.h"

using namespace couture;

namespace {

struct Shape {
  std::string name, what;
  int64_t m, k, n;  // [m, k] x [k, n]
};

bench::Row run_case(const Shape& s, at::ScalarType dtype, int reps, int threads) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  auto a = at::randn({s.m, s.k}, gen), w = at::randn({s.n, s.k}, gen) / std::sqrt(double(s.k));
  const auto ref = at::matmul(a.narrow(0, 0, std::min<int64_t>(64, s.m)).to(at::kDouble), w.to(at::kDouble).t());
  auto x = a.to(dtype), wd = w.to(dtype);
  at::Tensor y;
  bench::reset_peak_rss();
  // at::linear is the same product as matmul with the transposed weight; both go to the BLAS (or oneDNN) GEMM.
  const bench::Timing t = bench::time_median(reps, [&] { y = at::linear(x, wd); });
  const double flop = 2.0 * double(s.m) * double(s.k) * double(s.n);
  const auto got = y.narrow(0, 0, ref.size(0)).to(at::kDouble);
  const std::string dtype_name = dtype == at::kFloat ? "fp32" : "bf16";
  return {.bench = "nn_gemm", .case_name = s.name + "_" + dtype_name, .what = s.what + ", " + dtype_name,
          .median_s = t.wall, .reps = t.reps, .threads = threads, .throughput = flop / t.wall / 1e9,
          .throughput_unit = "GFLOP/s", .quality = ((got - ref).norm() / ref.norm()).item<double>(),
          .quality_label = "rel err vs fp64", .peak_mb = bench::peak_rss_mb()};
}

// PackedLinear over `layers` distinct weights, one call each in turn; GFLOP/s of the products.
bench::Row run_packed(at::ScalarType dtype, bool int8, int reps, int threads) {
  const int64_t m = 16, k = 1024, n = 4096, layers = 16;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
  auto a = at::randn({m, k}, gen);
  std::vector<PackedLinear> packed;
  at::Tensor first;
  for (int64_t l = 0; l < layers; ++l) {
    auto w = at::randn({n, k}, gen) / std::sqrt(double(k));
    if (l == 0) first = w;
    packed.emplace_back(w.to(dtype), at::Tensor(), PackedLinear::Epilogue::plain, at::kFloat,
                        int8 ? PackedLinear::Weights::int8 : PackedLinear::Weights::as_given);
  }
  const auto x = a.to(dtype);
  const bench::Timing t = bench::time_median(reps, [&] {
    for (const auto& p : packed) p(x);
  });
  const auto ref = at::matmul(a.to(at::kDouble), first.to(at::kDouble).t());
  const auto got = packed[0](x).to(at::kDouble);
  const std::string name = int8 ? "int8" : dtype == at::kFloat ? "fp32" : "bf16";
  const double flop = 2.0 * double(m * k * n * layers);
  return {.bench = "nn_gemm", .case_name = "packed_1024x4096_b16_" + name,
          .what = "packed linear 1024->4096, batch 16, 16 layers' weights, " + name, .median_s = t.wall / layers,
          .reps = t.reps, .threads = threads, .throughput = flop / t.wall / 1e9, .throughput_unit = "GFLOP/s",
          .quality = ((got - ref).norm() / ref.norm()).item<double>(), .quality_label = "rel err vs fp64",
          .peak_mb = bench::peak_rss_mb()};
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);  // see nn/threads.h: OpenMP waiting and OpenBLAS kernels
  CLI::App app{"Matrix-product speed (GFLOP/s) in fp32 and bf16: the machine line of `make bench`"};
  bench::Options o{.reps = 5};
  bench::add_common_options(app, o, "A 1024 matmul instead of 2048");
  CLI11_PARSE(app, argc, argv);
  init_torch_threads(o.threads);
  const int64_t n = o.quick ? 1024 : 2048;
  const std::vector<Shape> shapes = {
      {"matmul_" + std::to_string(n), "matmul " + std::to_string(n) + "^3", n, n, n},
      {"linear_4096_b16", "linear 4096->4096, batch 16", 16, 4096, 4096}};
  std::printf("GEMM: %s, %d cores, %d threads, median of %d (after a warm-up)\n", bench::cpu_model().c_str(),
              core_count(), threads(), o.reps);
  bench::print_rows_header();
  std::vector<bench::Row> rows;
  for (const Shape& s : shapes)
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      rows.push_back(run_case(s, dtype, o.reps, threads()));
      bench::print_row(rows.back());
    }
  const double fp32 = rows[0].throughput, bf16 = rows[1].throughput;
  for (auto [dtype, int8] : {std::pair{at::kFloat, false}, {at::kBFloat16, false}, {at::kBFloat16, true}}) {
    if (!PackedLinear::available(dtype, int8 ? PackedLinear::Weights::int8 : PackedLinear::Weights::as_given))
      continue;
    rows.push_back(run_packed(dtype, int8, o.reps, threads()));
    bench::print_row(rows.back());
  }
  std::printf("machine: %d cores, %s, GEMM fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s (threads %d)\n", core_count(),
              bench::cpu_model().c_str(), fp32, bf16, threads());
  bench::json machine = {{"cores", core_count()},
                         {"hardware_threads", std::thread::hardware_concurrency()},
                         {"cpu", bench::cpu_model()},
                         {"threads", threads()},
                         {"gemm_case", rows[0].what},
                         {"gemm_fp32_gflops", fp32},
                         {"gemm_bf16_gflops", bf16},
                         {"load_average", bench::load_average()}};
  bench::write_json(o.json_path, {{"bench", "nn_gemm"}, {"machine", machine}}, rows);
  return 0;
}
