#include "eval/judge.h"

#include "core/error.h"

namespace couture {

nlohmann::json JudgeConfig::to_json() const {
  return {{"in_channels", in_channels}, {"stem_stride", stem_stride}, {"widths", widths}, {"blocks", blocks}, {"dropout", dropout}};
}

JudgeConfig JudgeConfig::from_json(const nlohmann::json& j) {
  JudgeConfig c;
  try {
    c.in_channels = j.value("in_channels", c.in_channels);
    c.stem_stride = j.value("stem_stride", c.stem_stride);
    c.widths = j.value("widths", c.widths);
    c.blocks = j.value("blocks", c.blocks);
    c.dropout = j.value("dropout", c.dropout);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("judge config: ") + e.what());
  }
  COUTURE_CHECK_INPUT(c.in_channels > 0, "judge config: in_channels must be positive, got ", c.in_channels);
  COUTURE_CHECK_INPUT(c.stem_stride == 1 || c.stem_stride == 2, "judge config: stem_stride must be 1 or 2, got ",
                      c.stem_stride);
  COUTURE_CHECK_INPUT(!c.widths.empty(), "judge config: widths must name at least one stage");
  for (int64_t w : c.widths) COUTURE_CHECK_INPUT(w > 0 && w <= 4096, "judge config: width ", w, " out of range");
  COUTURE_CHECK_INPUT(c.blocks >= 1 && c.blocks <= 16, "judge config: blocks must be 1..16, got ", c.blocks);
  COUTURE_CHECK_INPUT(c.dropout >= 0 && c.dropout < 1, "judge config: dropout must be in [0, 1), got ", c.dropout);
  return c;
}

namespace {
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}
}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
  conv1 = register_module("conv1", conv(in, out, 3, stride));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2 = register_module("conv2", conv(out, out, 3, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (in != out || stride != 1) {
    shortcut_conv = register_module("shortcut_conv", conv(in, out, 1, stride));
    shortcut_bn = register_module("shortcut_bn", torch::nn::BatchNorm2d(out));
  }
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  auto h = torch::relu(bn1(conv1(x)));
  h = bn2(conv2(h));
  return torch::relu(h + (shortcut_conv ? shortcut_bn(shortcut_conv(x)) : x));
}

JudgeNetImpl::JudgeNetImpl(const JudgeConfig& config) : config_(config) {
  stem = register_module("stem", conv(config.in_channels, config.widths[0], 3, config.stem_stride));
  stem_bn = register_module("stem_bn", torch::nn::BatchNorm2d(config.widths[0]));
  blocks = register_module("blocks", torch::nn::ModuleList());
  int64_t channels = config.widths[0];
  for (size_t s = 0; s < config.widths.size(); ++s)
    for (int64_t b = 0; b < config.blocks; ++b) {
      blocks->push_back(BasicBlock(channels, config.widths[s], s > 0 && b == 0 ? 2 : 1));
      channels = config.widths[s];
    }
  if (config.num_categories > 0)
    category_head = register_module("category_head", torch::nn::Linear(channels, config.num_categories));
  if (config.num_colours > 0)
    colour_head = register_module("colour_head", torch::nn::Linear(channels, config.num_colours));
  if (config.num_prints > 0) print_head = register_module("print_head", torch::nn::Linear(channels, config.num_prints));
}

at::Tensor JudgeNetImpl::features(const at::Tensor& x) {
  auto h = torch::relu(stem_bn(stem(x)));
  for (const auto& block : *blocks) h = block->as<BasicBlock>()->forward(h);
  return h.mean({2, 3});
}

AttributeLogits JudgeNetImpl::heads(const at::Tensor& features) {
  auto h = torch::dropout(features, config_.dropout, is_training());
  AttributeLogits out;
  if (category_head) out.category = category_head(h);
  if (colour_head) out.colour = colour_head(h);
  if (print_head) out.print = print_head(h);
  return out;
}

}  // namespace couture
