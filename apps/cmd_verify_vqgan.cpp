// couture verify vqgan: runs a VQGAN on a reference io file (taming's `x` and its outputs `h`, `zq`, `indices`,
// `dec`; format in ../shared/testdata/README.md) and prints one JSON line with the relative errors
// ||out - ref|| / ||ref|| of h, zq and dec (and of the decoder alone, run on the reference zq) and whether the
// indices match. Exits 1 when a check fails.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/vqgan.h"
#include "nn/tensor_io.h"

namespace {

struct Options {
  std::string weights, io, config, dtype = "fp32";
  double tolerance = 1e-4;
};

double relative_error(const at::Tensor& out, const at::Tensor& ref, const std::string& name) {
  COUTURE_CHECK_INPUT(out.sizes() == ref.sizes(), "reference tensor '", name, "' has shape ", ref.sizes(),
                      ", the model gives ", out.sizes());
  auto r = ref.to(torch::kFloat);
  return ((out.to(torch::kFloat) - r).norm() / r.norm().clamp_min(1e-30)).item<double>();
}

void run(const Options& o) {
  using couture::load_tensor;
  auto model = couture::load_vqgan(o.weights, o.config.empty() ? std::nullopt
                                                               : std::optional<std::filesystem::path>(o.config));
  model->eval();
  const auto dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat;
  model->to(dtype);
  auto io = couture::SafetensorsFile::open(o.io);
  torch::NoGradGuard no_grad;
  auto x = load_tensor(io, "x").to(dtype);
  auto enc = model->encode(x);
  auto dec = model->decode(enc.zq);

  nlohmann::ordered_json line;
  line["weights"] = o.weights;
  line["io"] = o.io;
  line["dtype"] = o.dtype;
  bool pass = true;
  for (const auto& [name, out] : {std::pair<std::string, at::Tensor>{"h", enc.h}, {"zq", enc.zq}, {"dec", dec}}) {
    if (!io.find(name)) continue;
    const double err = relative_error(out, load_tensor(io, name), name);
    line[name + "_rel_err"] = err;
    pass = pass && err < o.tolerance;
  }
  // The decoder alone, from the reference's own zq (separates decoder error from a different code choice).
  if (io.find("zq") && io.find("dec")) {
    auto dec_ref_zq = model->decode(load_tensor(io, "zq").to(dtype));
    line["dec_from_ref_zq_rel_err"] = relative_error(dec_ref_zq, load_tensor(io, "dec"), "dec");
  }
  if (io.find("indices")) {
    auto ref = load_tensor(io, "indices").to(torch::kLong);
    COUTURE_CHECK_INPUT(ref.sizes() == enc.indices.sizes(), "reference tensor 'indices' has shape ", ref.sizes(),
                        ", the model gives ", enc.indices.sizes());
    const int64_t mismatched = enc.indices.ne(ref).sum().item<int64_t>();
    line["indices_match"] = mismatched == 0;
    line["indices_mismatched"] = mismatched;
    line["indices_total"] = ref.numel();
    pass = pass && mismatched == 0;
  }
  line["tolerance"] = o.tolerance;
  line["pass"] = pass;
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
  if (!pass) throw couture::Error("vqgan '" + o.weights + "' does not match '" + o.io + "' within the tolerance");
}

}  // namespace

COUTURE_COMMAND("verify vqgan", "Run a VQGAN on a reference io file; print relative errors of h, zq, dec as JSON") {
  static Options o;
  cmd.add_option("--weights", o.weights, "VQGAN weights (.safetensors with taming's key names)")->required();
  cmd.add_option("--io", o.io, "Reference io file: x [B,3,H,W] in [-1,1] and optionally h, zq, indices, dec")
      ->required();
  cmd.add_option("--config", o.config, "Config JSON (default: the weights' metadata, else <stem>_config.json)");
  cmd.add_option("--dtype", o.dtype, "Compute type")->check(CLI::IsMember({"fp32", "bf16"}));
  cmd.add_option("--tolerance", o.tolerance, "Largest relative error that passes");
  cmd.callback([] { run(o); });
}
