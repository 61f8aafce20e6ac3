#include "models/vqgan_loss.h"

#include <set>

#include "core/error.h"
#include "io/safetensors.h"
#include "nn/tensor_io.h"

namespace couture {

namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias = true) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

torch::nn::LeakyReLU leaky() { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)); }

// LPIPS's normalize_tensor: x / (||x||_C + 1e-10).
at::Tensor unit_channels(const at::Tensor& x) { return x / (x.pow(2).sum(1, true).sqrt() + 1e-10); }

}  // namespace

// ---- discriminator and GAN loss --------------------------------------------------------------------------------

NLayerDiscriminatorImpl::NLayerDiscriminatorImpl(int64_t input_nc, int64_t ndf, int64_t n_layers) {
  main = register_module("main", torch::nn::Sequential());
  main->push_back(conv(input_nc, ndf, 4, 2, 1));
  main->push_back(leaky());
  int64_t mult = 1, previous = 1;
  for (int64_t n = 1; n < n_layers; ++n) {
    previous = mult;
    mult = std::min<int64_t>(int64_t(1) << n, 8);
    main->push_back(conv(ndf * previous, ndf * mult, 4, 2, 1, /*bias=*/false));
    main->push_back(torch::nn::BatchNorm2d(ndf * mult));
    main->push_back(leaky());
  }
  previous = mult;
  mult = std::min<int64_t>(int64_t(1) << n_layers, 8);
  main->push_back(conv(ndf * previous, ndf * mult, 4, 1, 1, /*bias=*/false));
  main->push_back(torch::nn::BatchNorm2d(ndf * mult));
  main->push_back(leaky());
  main->push_back(conv(ndf * mult, 1, 4, 1, 1));
}

at::Tensor NLayerDiscriminatorImpl::forward(const at::Tensor& x) { return main->forward(x); }

void init_discriminator_weights(NLayerDiscriminatorImpl& discriminator, at::Generator generator) {
  torch::NoGradGuard no_grad;
  for (auto& m : discriminator.modules(/*include_self=*/false)) {
    if (auto* c = m->as<torch::nn::Conv2d>()) {
      c->weight.normal_(0.0, 0.02, generator);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.normal_(1.0, 0.02, generator);
      bn->bias.zero_();
    }
  }
}

at::Tensor hinge_d_loss(const at::Tensor& logits_real, const at::Tensor& logits_fake) {
  return 0.5 * (torch::relu(1.0 - logits_real).mean() + torch::relu(1.0 + logits_fake).mean());
}

at::Tensor adaptive_weight(const at::Tensor& nll_loss, const at::Tensor& g_loss, const at::Tensor& last_layer,
                           double disc_weight) {
  auto nll_grad = torch::autograd::grad({nll_loss}, {last_layer}, {}, /*retain_graph=*/true)[0];
  auto g_grad = torch::autograd::grad({g_loss}, {last_layer}, {}, /*retain_graph=*/true)[0];
  auto w = (nll_grad.norm() / (g_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach();
  return w * disc_weight;
}

at::Tensor rgb_to_lab(const at::Tensor& rgb) {
  COUTURE_CHECK(rgb.dim() == 4 && rgb.size(1) == 3, "rgb_to_lab: expected [B, 3, H, W], got ", rgb.sizes());
  auto c = ((rgb.to(at::kFloat) + 1) / 2).clamp(0, 1);
  // sRGB -> linear light (each branch kept finite so that where()'s gradient is)
  auto linear = at::where(c <= 0.04045, c / 12.92, ((c.clamp_min(0.04045) + 0.055) / 1.055).pow(2.4));
  auto r = linear.select(1, 0), g = linear.select(1, 1), b = linear.select(1, 2);
  // -> XYZ, relative to the D65 white
  auto x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
  auto y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  auto z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
  constexpr double eps = 216.0 / 24389.0, kappa = 24389.0 / 27.0;
  auto f = [&](const at::Tensor& t) {
    return at::where(t > eps, t.clamp_min(eps).pow(1.0 / 3.0), (kappa * t + 16) / 116);
  };
  auto fx = f(x), fy = f(y), fz = f(z);
  return at::stack({(116 * fy - 16) / 100, 5 * (fx - fy), 2 * (fy - fz)}, 1);
}

GeneratorLoss generator_loss(const VQLossConfig& c, const at::Tensor& codebook_loss, const at::Tensor& inputs,
                             const at::Tensor& reconstructions, int64_t step, const at::Tensor& last_layer,
                             NLayerDiscriminatorImpl& discriminator, const PerceptualDistance& perceptual) {
  GeneratorLoss out;
  auto diff = inputs - reconstructions;
  auto rec = diff.abs();
  out.l1 = rec.mean().item<double>();
  if (c.l2_weight > 0) rec = rec + c.l2_weight * diff.pow(2);
  if (c.colour_weight > 0) {
    auto lab = (rgb_to_lab(inputs) - rgb_to_lab(reconstructions)).abs();
    out.colour = lab.mean().item<double>();
    rec = rec + c.colour_weight * lab;
  }
  if (c.perceptual_weight > 0 && perceptual) {
    auto p = perceptual(inputs, reconstructions);
    out.perceptual = p.mean().item<double>();
    rec = rec + c.perceptual_weight * p;
  }
  auto nll = rec.mean();
  out.nll = nll.item<double>();
  out.codebook = codebook_loss.mean().item<double>();
  auto loss = nll + c.codebook_weight * codebook_loss.mean();
  out.disc_factor = (c.gan && step >= c.disc_start) ? c.disc_factor : 0.0;
  if (out.disc_factor > 0) {
    auto g_loss = -discriminator.forward(reconstructions).mean();
    out.g_loss = g_loss.item<double>();
    // As taming: without a graph to the last layer (evaluation) the weight is 0.
    auto d_weight = nll.requires_grad() && g_loss.requires_grad()
                        ? adaptive_weight(nll, g_loss, last_layer, c.disc_weight)
                        : torch::zeros({}, nll.options());
    out.d_weight = d_weight.item<double>();
    loss = loss + d_weight * out.disc_factor * g_loss;
  }
  out.loss = loss;
  return out;
}

DiscriminatorLoss discriminator_loss(const VQLossConfig& c, const at::Tensor& inputs,
                                     const at::Tensor& reconstructions, int64_t step,
                                     NLayerDiscriminatorImpl& discriminator) {
  DiscriminatorLoss out;
  if (!c.gan || step < c.disc_start) return out;
  auto real = discriminator.forward(inputs.detach());
  auto fake = discriminator.forward(reconstructions.detach());
  out.logits_real = real.mean().item<double>();
  out.logits_fake = fake.mean().item<double>();
  out.loss = c.disc_factor * hinge_d_loss(real, fake);
  return out;
}

// ---- LPIPS -----------------------------------------------------------------------------------------------------

LPIPSImpl::LPIPSImpl() {
  auto scaling = register_module("scaling_layer", std::make_shared<torch::nn::Module>());
  shift_ = scaling->register_buffer("shift", torch::tensor({-.030f, -.088f, -.188f}).view({1, 3, 1, 1}));
  scale_ = scaling->register_buffer("scale", torch::tensor({.458f, .448f, .450f}).view({1, 3, 1, 1}));
  auto net = register_module("net", std::make_shared<torch::nn::Module>());
  // torchvision's vgg16().features split where LPIPS taps it (after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3);
  // each layer keeps its index in `features` as its name.
  const std::vector<std::vector<int64_t>> convs = {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512},
                                                   {512, 512, 512}};
  int64_t index = 0, channels = 3;
  for (size_t s = 0; s < convs.size(); ++s) {
    torch::nn::Sequential slice;
    if (s > 0) slice->push_back(std::to_string(index++), torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
    for (int64_t out : convs[s]) {
      slice->push_back(std::to_string(index++), conv(channels, out, 3, 1, 1));
      slice->push_back(std::to_string(index++), torch::nn::ReLU());
      channels = out;
    }
    slices_.push_back(net->register_module("slice" + std::to_string(s + 1), slice));
    torch::nn::Sequential lin;
    lin->push_back("1", conv(channels, 1, 1, 1, 0, /*bias=*/false));
    auto holder = register_module("lin" + std::to_string(s), std::make_shared<torch::nn::Module>());
    lins_.push_back(holder->register_module("model", lin));
  }
  for (auto& p : parameters()) p.set_requires_grad(false);
}

at::Tensor LPIPSImpl::forward(const at::Tensor& x, const at::Tensor& y) {
  auto a = (x - shift_) / scale_, b = (y - shift_) / scale_;
  at::Tensor total;
  for (size_t s = 0; s < slices_.size(); ++s) {
    a = slices_[s]->forward(a);
    b = slices_[s]->forward(b);
    auto d = lins_[s]->forward((unit_channels(a) - unit_channels(b)).pow(2)).mean({2, 3}, /*keepdim=*/true);
    total = total.defined() ? total + d : d;
  }
  return total;
}

void load_lpips(LPIPSImpl& lpips, const std::filesystem::path& path) {
  auto file = SafetensorsFile::open(path);
  const std::string where = "loading LPIPS from '" + path.string() + "'";
  std::set<std::string> known;
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : state_dict(lpips)) {
    known.insert(name);
    const TensorView* v = file.find(name);
    if (!v && name.rfind("scaling_layer.", 0) == 0) continue;  // constants; optional in the file
    COUTURE_CHECK_INPUT(v, where, ": tensor '", name, "' is missing");
    COUTURE_CHECK_INPUT(at::IntArrayRef(v->shape) == t.sizes(), where, ": tensor '", name, "' has shape ",
                        at::IntArrayRef(v->shape), ", expected ", t.sizes());
    t.copy_(to_tensor(file, *v));
  }
  for (const auto& v : file.tensors())
    COUTURE_CHECK_INPUT(known.count(v.name), where, ": unexpected tensor '", v.name, "'");
  for (auto& p : lpips.parameters()) p.set_requires_grad(false);
  lpips.eval();
}

// ---- Couture's features net ------------------------------------------------------------------------------------

FeatureNetImpl::FeatureNetImpl(const FeatureNetConfig& config) : config_(config) {
  COUTURE_CHECK(!config.widths.empty(), "features net: at least one stage is needed");
  stages = register_module("stages", torch::nn::ModuleList());
  int64_t channels = config.in_channels;
  for (int64_t width : config.widths) {
    COUTURE_CHECK(width % 8 == 0, "features net: stage width ", width, " is not a multiple of 8 (GroupNorm(8))");
    torch::nn::Sequential stage(conv(channels, width, 3, 1, 1), torch::nn::GroupNorm(8, width), torch::nn::SiLU(),
                                conv(width, width, 3, 1, 1), torch::nn::GroupNorm(8, width), torch::nn::SiLU());
    stages->push_back(stage);
    channels = width;
  }
  if (config.num_categories > 0)
    category_head = register_module("category_head", torch::nn::Linear(channels, config.num_categories));
  if (config.num_colours > 0)
    colour_head = register_module("colour_head", torch::nn::Linear(channels, config.num_colours));
  if (config.num_prints > 0) print_head = register_module("print_head", torch::nn::Linear(channels, config.num_prints));
}

std::vector<at::Tensor> FeatureNetImpl::features(const at::Tensor& x) {
  std::vector<at::Tensor> out;
  at::Tensor h = x;
  for (size_t s = 0; s < stages->size(); ++s) {
    if (s > 0) h = torch::avg_pool2d(h, 2);
    h = stages[s]->as<torch::nn::Sequential>()->forward(h);
    out.push_back(h);
  }
  return out;
}

AttributeLogits FeatureNetImpl::forward(const at::Tensor& x) {
  auto pooled = features(x).back().mean({2, 3});
  AttributeLogits out;
  if (category_head) out.category = category_head(pooled);
  if (colour_head) out.colour = colour_head(pooled);
  if (print_head) out.print = print_head(pooled);
  return out;
}

at::Tensor feature_distance(FeatureNetImpl& net, const at::Tensor& x, const at::Tensor& y) {
  auto fx = net.features(x), fy = net.features(y);
  at::Tensor total;
  for (size_t s = 0; s < fx.size(); ++s) {
    auto d = (unit_channels(fx[s]) - unit_channels(fy[s])).pow(2).sum(1, true).mean({2, 3}, true);
    total = total.defined() ? total + d : d;
  }
  return total / double(fx.size());
}

}  // namespace couture
