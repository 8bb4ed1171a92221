// Convolutional building blocks shared by the UNet and the VAE, matching diffusers v0.27.2
// (models/resnet.py ResnetBlock2D, models/downsampling.py Downsample2D, models/upsampling.py
// Upsample2D). Submodules are registered under the diffusers attribute names, so checkpoint keys
// (norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut, conv) load without renaming.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "core/nets/activation.h"

namespace gligen::nets {

// Runs `conv` on x: [B, C, H, W]. At inference on the CPU, a convolution with a large weight and
// few output positions (the UNet's 1280-channel 4x4 level at 256x256) is computed as im2col and
// one GEMM on the weight as stored: oneDNN's direct path reorders the whole weight into its blocked
// layout on every call, which there costs as much as the arithmetic. Same math, another
// summation order (within 1e-6 of a float64 run, as oneDNN is). Elsewhere: conv->forward(x).
torch::Tensor conv2d_forward(torch::nn::Conv2dImpl& conv, const torch::Tensor& x);
// Whether conv2d_forward takes the im2col + GEMM path for this input (for tests and benchmarks).
bool conv2d_uses_gemm(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x);

// Nearest 2x upsampling followed by `conv` (3x3, stride 1, padding 1), computed as one 2x2
// convolution with four output phases on the input as it is (2.25x fewer products, no upsampled
// copy). Same math, another summation order (within 1e-6 of a float64 run, as oneDNN is).
// Upsample2D takes it at inference on the CPU in float32 where upsample_conv_uses_phases says so:
// a 3x3/stride 1/padding 1 conv, an output of exactly twice the input's size and a large enough
// input (the VAE decoder's upsamplers, the UNet's from 8x8 up with CFG's batch of 2).
torch::Tensor upsample_conv_phases(torch::nn::Conv2dImpl& conv, const torch::Tensor& x);
bool upsample_conv_uses_phases(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                               const std::optional<std::vector<int64_t>>& output_size = std::nullopt);

struct ResnetBlock2DOptions {
  ResnetBlock2DOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  // Width of the time embedding; nullopt = no time_emb_proj (the VAE's blocks).
  TORCH_ARG(std::optional<int64_t>, temb_channels) = std::nullopt;
  TORCH_ARG(int64_t, groups) = 32;
  TORCH_ARG(std::optional<int64_t>, groups_out) = std::nullopt;  // nullopt = groups
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(Activation, non_linearity) = Activation::SiLU;
  // "default" adds the projected time embedding before norm2; "scale_shift" applies
  // norm2(h) * (1 + scale) + shift with a 2*out_channels projection.
  TORCH_ARG(std::string, time_embedding_norm) = "default";
  TORCH_ARG(bool, skip_time_act) = false;
  TORCH_ARG(double, output_scale_factor) = 1.0;
  // nullopt = a 1x1 conv_shortcut exactly when in_channels != out_channels (diffusers'
  // use_in_shortcut). diffusers v0.27.2 makes conv_shortcut 1x1 even with conv_shortcut=True.
  TORCH_ARG(std::optional<bool>, use_in_shortcut) = std::nullopt;
  TORCH_ARG(bool, conv_shortcut_bias) = true;
};

// out = (shortcut(x) + conv2(act(norm2(conv1(act(norm1(x))) + proj(act(temb)))))) / output_scale_factor
class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  explicit ResnetBlock2DImpl(const ResnetBlock2DOptions& options);
  // x: [B, C_in, H, W]; temb: [B, temb_channels] or undefined (blocks without time_emb_proj).
  // Returns [B, C_out, H, W].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb = {});

  const ResnetBlock2DOptions& options() const { return options_; }

  torch::nn::GroupNorm norm1{nullptr};
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::Linear time_emb_proj{nullptr};
  torch::nn::GroupNorm norm2{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  torch::nn::Conv2d conv_shortcut{nullptr};

 private:
  ResnetBlock2DOptions options_;
};
TORCH_MODULE(ResnetBlock2D);

struct Downsample2DOptions {
  explicit Downsample2DOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(bool, use_conv) = true;                                // false: 2x2 average pooling
  TORCH_ARG(std::optional<int64_t>, out_channels) = std::nullopt;  // nullopt = channels
  // Conv padding. 0 means diffusers' asymmetric rule: pad right and bottom by one, then a
  // padding-free stride-2 conv (the VAE encoder's downsample_padding = 0).
  TORCH_ARG(int64_t, padding) = 1;
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(bool, bias) = true;
};

// Halves H and W: a stride-2 conv registered as "conv", or avg_pool2d(2, 2) with no parameters.
class Downsample2DImpl : public torch::nn::Module {
 public:
  explicit Downsample2DImpl(const Downsample2DOptions& options);
  // x: [B, C, H, W] -> [B, C_out, H', W'] (H' = floor((H + 2p - k) / 2) + 1 for the conv).
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv{nullptr};

 private:
  Downsample2DOptions options_;
};
TORCH_MODULE(Downsample2D);

struct Upsample2DOptions {
  explicit Upsample2DOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(bool, use_conv) = true;
  TORCH_ARG(std::optional<int64_t>, out_channels) = std::nullopt;  // nullopt = channels
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(int64_t, padding) = 1;
  TORCH_ARG(bool, bias) = true;
};

// Nearest-neighbour 2x upsampling (or to an explicit size), then an optional conv ("conv").
class Upsample2DImpl : public torch::nn::Module {
 public:
  explicit Upsample2DImpl(const Upsample2DOptions& options);
  // x: [B, C, H, W] -> [B, C_out, 2H, 2W], or [B, C_out, size[0], size[1]] when `output_size`
  // is given (the UNet passes the skip connection's size when the latent side is odd).
  torch::Tensor forward(const torch::Tensor& x, std::optional<std::vector<int64_t>> output_size = std::nullopt);

  torch::nn::Conv2d conv{nullptr};

 private:
  Upsample2DOptions options_;
};
TORCH_MODULE(Upsample2D);

}  // namespace gligen::nets
