// VQGAN speed: encode and decode images/s for the `kodalle` (256 px, random weights) and `fmnist` (64 px) presets,
// F32 and BF16, NCHW and channels-last. Quality beside speed: each variant's deviation from F32 NCHW (decode: the
// image's relative error and largest absolute difference; encode: relative error of h and the share of equal codes).
// The codebook is drawn from the encoder's outputs on the bench images (as training leaves it), so codes are close
// calls as in a trained model rather than all equidistant.
// Usage: models_vqgan_bench [--json FILE] [--reps N] [--threads N] [--presets kodalle,fmnist] [--quick (fmnist)]
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "bench_profile.h"
#include "core/threads.h"
#include "models/vqgan.h"
#include "nn/threads.h"

using namespace couture;

namespace {

struct Case {
  std::string preset, op, dtype, layout;
  int64_t batch = 0;
  bench::Timing time;               // per batch
  double rel_err = 0, max_abs = 0;  // vs F32 NCHW (decode: image; encode: h)
  double codes_equal = 1;           // encode only
  std::string note;
};

void deviation(const at::Tensor& out, const at::Tensor& ref, Case& c) {
  auto o = out.to(at::kFloat).contiguous(), r = ref.to(at::kFloat).contiguous();
  c.rel_err = ((o - r).norm() / r.norm()).item<double>();
  c.max_abs = (o - r).abs().max().item<double>();
}

std::vector<Case> run_preset(const std::string& preset, int reps) {
  const VQGanConfig config = VQGanConfig::preset(preset);
  const int64_t batch = preset == "kodalle" ? 4 : 32;
  torch::manual_seed(7);
  VQModel model(config);
  model->eval();
  torch::NoGradGuard no_grad;
  // Smooth random images (bilinear upsampling of an 8x8 grid): closer to photos than per-pixel noise.
  auto images = torch::nn::functional::interpolate(
      torch::rand({batch, 3, 8, 8}) * 2 - 1,
      torch::nn::functional::InterpolateFuncOptions()
          .size(std::vector<int64_t>{config.resolution, config.resolution})
          .mode(torch::kBilinear)
          .align_corners(false));
  {
    auto h = model->encode(images).h.permute({0, 2, 3, 1}).reshape({-1, config.embed_dim});
    auto rows = torch::randint(h.size(0), {config.n_embed}, torch::kLong);
    auto picked = h.index_select(0, rows);
    model->quantize->embedding->weight.copy_(picked + 0.05 * h.std() * torch::randn_like(picked));
  }
  auto codes = model->encode(images).indices;

  std::vector<Case> cases;
  at::Tensor ref_image, ref_h, ref_codes;
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    for (auto layout : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      const std::string dtype_name = dtype == at::kFloat ? "fp32" : "bf16";
      const std::string layout_name = layout == at::MemoryFormat::Contiguous ? "nchw" : "nhwc";
      model->to(dtype);
      for (auto& p : model->parameters())
        if (p.dim() == 4) p.set_data(p.contiguous(layout));
      auto x = images.to(dtype).contiguous(layout);
      Case enc{preset, "encode", dtype_name, layout_name, batch};
      Case dec{preset, "decode", dtype_name, layout_name, batch};
      try {
        VQEncoded e;
        at::Tensor image;
        enc.time = bench::time_median(reps, [&] { e = model->encode(x); });
        dec.time = bench::time_median(reps, [&] { image = model->decode_codes(codes); });
        if (!ref_image.defined()) {
          ref_image = image;
          ref_h = e.h;
          ref_codes = e.indices;
        }
        deviation(image, ref_image, dec);
        deviation(e.h, ref_h, enc);
        enc.codes_equal = e.indices.eq(ref_codes).to(at::kFloat).mean().item<double>();
      } catch (const std::exception& ex) {
        enc.note = dec.note = std::string("unsupported: ") + std::string(ex.what()).substr(0, 80);
      }
      cases.push_back(enc);
      cases.push_back(dec);
    }
  }
  return cases;
}

// Where one bf16 decode of `batch` random codes spends its time at `preset`, by operator (bench_profile.h), as the
// generator runs it (bf16 NCHW decoder): a markdown table, printed and written to `path`.
void profile_decode(const std::string& preset, int64_t batch, const std::string& path) {
  const VQGanConfig config = VQGanConfig::preset(preset);
  torch::manual_seed(7);
  VQModel model(config);
  model->eval();
  model->post_quant_conv->to(at::kBFloat16);
  model->decoder->to(at::kBFloat16);
  torch::NoGradGuard no_grad;
  const int64_t side = config.resolution / (int64_t(1) << (config.ch_mult.size() - 1));
  auto codes = torch::randint(config.n_embed, {batch, side * side}, torch::kLong);
  model->decode_codes(codes);  // warm-up
  char heading[200];
  std::snprintf(heading, sizeof heading,
                "Preset %s, decode of %lld images, bf16 NCHW, %d threads: %%.2f s under the profiler (operators' self "
                "time %%.2f s).",
                preset.c_str(), (long long)batch, threads());
  const std::string md = bench::profile_operators([&] { model->decode_codes(codes); }, heading, 30);
  std::printf("%s", md.c_str());
  std::ofstream(path) << md;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

// The case in the project's uniform table: seconds per batch, images/s, and the quality figure that matters for
// the op (encode: the codes the DALL-E would see; decode: the picture).
bench::Row table_row(const Case& c, int reps) {
  bench::Row r{.bench = "models_vqgan",
               .case_name = c.preset + "_" + c.op + "_" + c.dtype + "_" + c.layout,
               .what = c.preset + " " + c.op + ", " + c.dtype + " " + c.layout + ", batch " + std::to_string(c.batch)};
  r.note = c.note;
  r.median_s = c.time.wall, r.reps = reps, r.threads = threads();
  r.throughput = double(c.batch) / c.time.wall, r.throughput_unit = "images/s";
  if (c.dtype == "fp32" && c.layout == "nchw") {
    r.quality_label = "reference";
  } else {
    r.quality = c.op == "encode" ? c.codes_equal : c.rel_err;
    r.quality_label = c.op == "encode" ? "codes equal to fp32" : "rel err vs fp32";
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  couture::exec_with_runtime_settings(argv);  // see nn/threads.h: OpenMP waiting and OpenBLAS kernels
  CLI::App app{"VQGAN encode/decode speed, fp32/bf16, NCHW/channels-last"};
  bench::Options o;
  std::string presets = "fmnist,kodalle";
  bench::add_common_options(app, o, "The fmnist preset only");
  app.add_option("--presets", presets, "Comma-separated presets");
  std::string profile_path;
  int64_t profile_batch = 4;
  app.add_option("--profile", profile_path,
                 "Instead of the cases: profile one bf16 decode of the first preset by operator, a markdown table "
                 "here");
  app.add_option("--profile-batch", profile_batch, "Images in the profiled decode")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  if (o.quick) presets = "fmnist";
  const int reps = o.reps;
  init_torch_threads(o.threads);
  if (!profile_path.empty()) {
    profile_decode(split(presets).at(0), profile_batch, profile_path);
    return 0;
  }
  std::cout << "VQGAN encode/decode, " << threads() << " threads of " << core_count() << " cores, median of " << reps
            << " repetitions (after a warm-up); cpu s/image = process CPU time / threads (the wall time on idle "
               "cores); deviation against fp32 nchw\n";
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  std::cout << "OMP_WAIT_POLICY=" << (wait_policy ? wait_policy : "(unset: active)")
            << " (on a machine shared with other jobs, passive keeps waiting threads from burning the cores)\n";
  std::cout << std::left << std::setw(9) << "preset" << std::setw(8) << "op" << std::setw(6) << "dtype"
            << std::setw(7) << "layout" << std::setw(6) << "batch" << std::right << std::setw(10) << "images/s"
            << std::setw(10) << "s/image" << std::setw(14) << "cpu s/image" << std::setw(11) << "rel err"
            << std::setw(12) << "max |diff|" << std::setw(13) << "codes equal" << "\n";
  bench::json out = {{"bench", "models_vqgan"}, {"threads", threads()}, {"reps", reps}, {"cases", {}}};
  std::vector<bench::Row> rows;
  for (const std::string& preset : split(presets)) {
    for (const Case& c : run_preset(preset, reps)) {
      rows.push_back(table_row(c, reps));
      bench::json j = {{"preset", c.preset}, {"op", c.op}, {"dtype", c.dtype}, {"layout", c.layout},
                       {"batch", c.batch}};
      std::cout << std::left << std::setw(9) << c.preset << std::setw(8) << c.op << std::setw(6) << c.dtype
                << std::setw(7) << c.layout << std::setw(6) << c.batch;
      if (!c.note.empty()) {
        std::cout << c.note << "\n";
        j["note"] = c.note;
        out["cases"].push_back(j);
        continue;
      }
      const double per_image = c.time.wall / double(c.batch);
      const double cpu_per_image = c.time.cpu / double(threads()) / double(c.batch);
      std::ostringstream codes;
      if (c.op == "encode") codes << std::fixed << std::setprecision(4) << c.codes_equal;
      else codes << "-";
      std::cout << std::right << std::fixed << std::setprecision(2) << std::setw(10) << 1.0 / per_image
                << std::setprecision(4) << std::setw(10) << per_image << std::setw(14) << cpu_per_image
                << std::scientific << std::setprecision(2) << std::setw(11) << c.rel_err << std::setw(12)
                << c.max_abs << std::setw(13) << codes.str() << std::defaultfloat << "\n";
      j["images_per_second"] = 1.0 / per_image;
      j["seconds_per_image"] = per_image;
      j["cpu_seconds_per_image_per_thread"] = cpu_per_image;
      j["rel_err_vs_fp32"] = c.rel_err;
      j["max_abs_diff_vs_fp32"] = c.max_abs;
      if (c.op == "encode") j["codes_equal_vs_fp32"] = c.codes_equal;
      out["cases"].push_back(j);
    }
  }
  bench::write_json(o.json_path, out, rows);
  return 0;
}
