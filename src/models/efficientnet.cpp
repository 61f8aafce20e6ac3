#include "models/efficientnet.h"

#include <cmath>

#include "core/error.h"

namespace couture {

namespace {

// One row of timm's efficientnet_b0 arch_def: ds_r1_k3_s1_e1_c16_se0.25, ir_r2_k3_s2_e6_c24_se0.25, ...
struct StageDef {
  bool expand;
  int repeats, kernel, stride, expansion, channels;
};
constexpr StageDef kB0Stages[] = {
    {false, 1, 3, 1, 1, 16}, {true, 2, 3, 2, 6, 24}, {true, 2, 5, 2, 6, 40},  {true, 3, 3, 2, 6, 80},
    {true, 3, 5, 1, 6, 112}, {true, 4, 5, 2, 6, 192}, {true, 1, 3, 1, 6, 320},
};
constexpr int kB0Stem = 32, kB0Head = 1280;
constexpr double kSeRatio = 0.25;  // of the block's input channels

// timm's make_divisible: nearest multiple of 8, never more than 10% below the request.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t rounded = std::max<int64_t>(divisor, int64_t(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

int64_t round_channels(int64_t channels, double multiplier) {
  return multiplier == 0 ? channels : make_divisible(channels * multiplier);
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1,
                       bool bias = false) {
  // Symmetric padding k//2, which equals timm's get_padding for odd kernels at stride 1 and 2.
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(bias));
}

torch::nn::BatchNorm2d batch_norm(int64_t channels, const EfficientNetConfig& config) {
  return torch::nn::BatchNorm2d(
      torch::nn::BatchNorm2dOptions(channels).eps(config.bn_eps).momentum(config.bn_momentum));
}

}  // namespace

EfficientNetLayout efficientnet_layout(const EfficientNetConfig& config) {
  COUTURE_CHECK_INPUT(config.width_multiplier > 0 && config.depth_multiplier > 0,
                      "efficientnet config: width and depth multipliers must be positive");
  EfficientNetLayout layout;
  layout.stem_channels = round_channels(kB0Stem, config.width_multiplier);
  layout.head_channels = round_channels(kB0Head, config.width_multiplier);
  int64_t total = 0;
  for (const auto& s : kB0Stages) total += int64_t(std::ceil(s.repeats * config.depth_multiplier));

  int64_t in = layout.stem_channels, index = 0;
  for (const auto& s : kB0Stages) {
    std::vector<MBConvSpec> stage;
    const int64_t repeats = int64_t(std::ceil(s.repeats * config.depth_multiplier));
    for (int64_t r = 0; r < repeats; ++r, ++index) {
      MBConvSpec b;
      b.in_channels = in;
      b.out_channels = round_channels(s.channels, config.width_multiplier);
      b.expand = s.expand;
      b.mid_channels = s.expand ? make_divisible(double(in) * s.expansion) : in;
      // timm builds SE on the expanded channels with rd_ratio 0.25 / expansion and Python's round (half to even).
      b.se_channels = int64_t(std::nearbyint(double(b.mid_channels) * (kSeRatio / s.expansion)));
      b.kernel = s.kernel;
      b.stride = r == 0 ? s.stride : 1;
      b.drop_path = config.drop_path_rate * double(index) / double(total);
      stage.push_back(b);
      in = b.out_channels;
    }
    layout.stages.push_back(std::move(stage));
  }
  return layout;
}

at::Tensor drop_path(const at::Tensor& x, double p, bool training, c10::optional<at::Generator> generator) {
  if (!training || p <= 0.0) return x;
  const double keep = 1.0 - p;
  auto mask = at::empty({x.size(0), 1, 1, 1}, x.options()).bernoulli_(keep, generator);
  return x * mask.div_(keep);
}

SqueezeExciteImpl::SqueezeExciteImpl(int64_t channels, int64_t reduced) {
  conv_reduce = register_module("conv_reduce", conv(channels, reduced, 1, 1, 1, true));
  conv_expand = register_module("conv_expand", conv(reduced, channels, 1, 1, 1, true));
}

at::Tensor SqueezeExciteImpl::forward(const at::Tensor& x) {
  auto s = x.mean({2, 3}, /*keepdim=*/true);
  s = conv_expand->forward(at::silu(conv_reduce->forward(s)));
  return x * s.sigmoid();
}

MBConvImpl::MBConvImpl(const MBConvSpec& spec_, const EfficientNetConfig& config) : spec(spec_) {
  const int64_t mid = spec.mid_channels;
  if (spec.expand) {
    expand_conv = register_module("conv_pw", conv(spec.in_channels, mid, 1));
    expand_bn = register_module("bn1", batch_norm(mid, config));
  }
  dw_conv = register_module("conv_dw", conv(mid, mid, spec.kernel, spec.stride, mid));
  dw_bn = register_module(spec.expand ? "bn2" : "bn1", batch_norm(mid, config));
  se = register_module("se", SqueezeExcite(mid, spec.se_channels));
  project_conv = register_module(spec.expand ? "conv_pwl" : "conv_pw", conv(mid, spec.out_channels, 1));
  project_bn = register_module(spec.expand ? "bn3" : "bn2", batch_norm(spec.out_channels, config));
}

at::Tensor MBConvImpl::forward(const at::Tensor& input, c10::optional<at::Generator> generator) {
  at::Tensor x = input;
  if (spec.expand) x = at::silu(expand_bn->forward(expand_conv->forward(x)));
  x = at::silu(dw_bn->forward(dw_conv->forward(x)));
  x = se->forward(x);
  x = project_bn->forward(project_conv->forward(x));
  // Residual only where shapes agree; stochastic depth drops the branch, never the shortcut.
  if (spec.stride == 1 && spec.in_channels == spec.out_channels)
    x = drop_path(x, spec.drop_path, is_training(), std::move(generator)) + input;
  return x;
}

EfficientNetImpl::EfficientNetImpl(const EfficientNetConfig& config)
    : config_(config), layout_(efficientnet_layout(config)) {
  conv_stem = register_module("conv_stem", conv(config.in_channels, layout_.stem_channels, 3, 2));
  bn1 = register_module("bn1", batch_norm(layout_.stem_channels, config));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (const auto& stage : layout_.stages) {
    torch::nn::ModuleList list;
    for (const auto& spec : stage) list->push_back(MBConv(spec, config));
    blocks->push_back(list);
  }
  const int64_t last = layout_.stages.back().back().out_channels;
  conv_head = register_module("conv_head", conv(last, layout_.head_channels, 1));
  bn2 = register_module("bn2", batch_norm(layout_.head_channels, config));
}

at::Tensor EfficientNetImpl::forward_features(const at::Tensor& images) {
  auto x = at::silu(bn1->forward(conv_stem->forward(images)));
  for (const auto& stage : *blocks)
    for (const auto& block : *stage->as<torch::nn::ModuleListImpl>())
      x = block->as<MBConvImpl>()->forward(x, generator_);
  return at::silu(bn2->forward(conv_head->forward(x)));
}

at::Tensor EfficientNetImpl::forward(const at::Tensor& images) { return forward_features(images).mean({2, 3}); }

void EfficientNetImpl::reset_parameters(at::Generator generator) {
  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<torch::nn::Conv2dImpl>()) {
      const auto& k = c->options.kernel_size();
      const int64_t fan_out = (*k)[0] * (*k)[1] * c->options.out_channels() / c->options.groups();
      c->weight.normal_(0.0, std::sqrt(2.0 / double(fan_out)), generator);
      if (c->bias.defined()) c->bias.zero_();
    } else if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      bn->reset_parameters();  // weight 1, bias 0, running stats reset
    }
  }
}

}  // namespace couture
