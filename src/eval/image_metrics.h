// Reconstruction fidelity: PSNR and SSIM per image (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5,
// K1 0.01, K2 0.03, on each channel, averaged), for images in [-1, 1] as the models use them.
#pragma once
#include <ATen/core/Tensor.h>

namespace couture {

at::Tensor psnr(const at::Tensor& a, const at::Tensor& b);  // [B,C,H,W] x2 -> [B] in dB (peak = full range)
at::Tensor ssim(const at::Tensor& a, const at::Tensor& b);  // [B,C,H,W] x2 -> [B] in [-1, 1]

}  // namespace couture
