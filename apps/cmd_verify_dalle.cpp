// couture verify dalle: runs the DALL-E transformer on a reference io file (KoDALLE's `text`, `image` and its
// outputs `logits`, `loss`, `greedy_image_tokens`; format in ../shared/testdata/README.md) and prints one JSON line:
// the relative error of the unmasked logits, the loss difference, the image logits seen step by step through the
// KV cache and without it, and whether greedy codes match with and without the cache. Exits 1 when a check fails.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/dalle.h"
#include "models/dalle_sampling.h"
#include "nn/tensor_io.h"

namespace {

struct Options {
  std::string weights, io, config, dtype = "fp32";
  double tolerance = 1e-4, loss_tolerance = 1e-5;
};

double relative_error(const at::Tensor& out, const at::Tensor& ref) {
  return ((out - ref).norm() / ref.norm().clamp_min(1e-30)).item<double>();
}

void run(const Options& o) {
  using couture::load_tensor;
  const auto dtype = o.dtype == "bf16" ? at::kBFloat16 : at::kFloat;
  couture::Dalle model = couture::load_dalle(o.weights, o.config, dtype);
  const auto& c = model->config();
  auto io = couture::SafetensorsFile::open(o.io);
  auto text = load_tensor(io, "text").to(at::kLong), image = load_tensor(io, "image").to(at::kLong);
  auto ref_logits = load_tensor(io, "logits").to(at::kFloat);
  const int64_t B = text.size(0), T = c.text_seq_len, N = c.image_seq_len();
  COUTURE_CHECK_INPUT(text.dim() == 2 && text.size(1) == T && image.sizes() == at::IntArrayRef({B, N}), o.io,
                      ": text must be [B, ", T, "] and image [B, ", N, "], got ", text.sizes(), " and ",
                      image.sizes());
  torch::NoGradGuard no_grad;
  auto logits = model->forward(text, image);
  COUTURE_CHECK_INPUT(logits.sizes() == ref_logits.sizes(), o.io, ": 'logits' has shape ", ref_logits.sizes(),
                      ", the model gives ", logits.sizes());
  auto unmasked = ref_logits > -1e38;  // the reference fills masked entries with -max float

  nlohmann::ordered_json line;
  line["weights"] = o.weights;
  line["io"] = o.io;
  line["dtype"] = o.dtype;
  const double logits_err = relative_error(logits.masked_select(unmasked), ref_logits.masked_select(unmasked));
  line["logits_rel_err"] = logits_err;
  line["logits_max_abs_diff"] = (logits - ref_logits).masked_select(unmasked).abs().max().item<double>();
  bool pass = logits_err < o.tolerance;

  auto ref_image = ref_logits.narrow(1, T, N).narrow(2, c.text_logits(), c.num_image_tokens);
  for (bool cache : {false, true}) {
    const double err = relative_error(couture::stepwise_image_logits(model, text, image, cache), ref_image);
    line[cache ? "stepwise_logits_rel_err_cache" : "stepwise_logits_rel_err_no_cache"] = err;
    pass = pass && err < o.tolerance;
  }
  if (io.find("loss")) {
    const double loss = model->loss(text, image).loss.item<double>(), ref = load_tensor(io, "loss").item<double>();
    line["loss"] = loss;
    line["loss_ref"] = ref;
    line["loss_diff"] = std::abs(loss - ref);
    pass = pass && std::abs(loss - ref) <= o.loss_tolerance;
  }
  if (io.find("greedy_image_tokens")) {
    auto ref = load_tensor(io, "greedy_image_tokens").to(at::kLong);
    for (bool cache : {false, true}) {
      couture::SampleParams greedy;
      greedy.temperature = 0;
      greedy.use_cache = cache;
      int64_t equal = 0;
      for (int64_t b = 0; b < B; ++b)
        equal += couture::sample_codes(model, text[b], greedy).codes[0].eq(ref[b]).sum().item<int64_t>();
      line[cache ? "greedy_match_cache" : "greedy_match_no_cache"] = equal == ref.numel();
      line[cache ? "greedy_codes_equal_cache" : "greedy_codes_equal_no_cache"] = equal;
      pass = pass && equal == ref.numel();
    }
    line["greedy_codes_total"] = ref.numel();
  }
  line["tolerance"] = o.tolerance;
  line["pass"] = pass;
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
  if (!pass) throw couture::Error("dalle '" + o.weights + "' does not match '" + o.io + "' within the tolerance");
}

}  // namespace

COUTURE_COMMAND("verify dalle",
                "Run the DALL-E transformer on a reference io file; print logits/loss errors and greedy matches as "
                "JSON") {
  static Options o;
  cmd.add_option("--weights", o.weights, "DALL-E weights (.safetensors with KoDALLE's key names)")->required();
  cmd.add_option("--io", o.io, "Reference io file: text, image, logits, and optionally loss, greedy_image_tokens")
      ->required();
  cmd.add_option("--config", o.config, "Config JSON (default: the weights' metadata, else <stem>_config.json)");
  cmd.add_option("--dtype", o.dtype, "Weights and matmul type")->check(CLI::IsMember({"fp32", "bf16"}));
  cmd.add_option("--tolerance", o.tolerance, "Largest relative logits error that passes");
  cmd.add_option("--loss-tolerance", o.loss_tolerance, "Largest absolute loss difference that passes");
  cmd.callback([] { run(o); });
}
