// The encoder and decoder halves of diffusers' AutoencoderKL (v0.27.2, models/autoencoders/vae.py
// Encoder / Decoder) and the blocks they are made of (models/unets/unet_2d_blocks.py
// DownEncoderBlock2D, UpDecoderBlock2D, UNetMidBlock2D as the VAE configures it). Every block is
// built from the shared ResnetBlock2D / Downsample2D / Upsample2D / Attention of resnet.h and
// attention.h; attribute names are diffusers', so keys such as
// encoder.down_blocks.0.downsamplers.0.conv.weight or decoder.mid_block.attentions.0.to_q.bias
// come out of the module tree unchanged.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/nets/attention.h"
#include "core/nets/resnet.h"
#include "core/nets/vae_config.h"

namespace gligen::nets {

// `layers` resnets (no time embedding), then optionally a stride-2 conv downsampler whose padding
// is diffusers' asymmetric right/bottom pad (downsample_padding = 0 in the VAE encoder).
class DownEncoderBlock2DImpl : public torch::nn::Module {
 public:
  DownEncoderBlock2DImpl(int64_t in_channels, int64_t out_channels, int64_t layers, bool add_downsample,
                         const VaeConfig& config);
  // x: [B, C_in, H, W] -> [B, C_out, H/2, W/2] (or [B, C_out, H, W] without downsampler)
  torch::Tensor forward(torch::Tensor x);

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList downsamplers{nullptr};  // absent in the last block

 private:
  std::vector<ResnetBlock2D> resnet_list_;  // typed views of `resnets`
  Downsample2D downsampler_{nullptr};
};
TORCH_MODULE(DownEncoderBlock2D);

// `layers` resnets, then optionally nearest 2x upsampling followed by a 3x3 conv.
class UpDecoderBlock2DImpl : public torch::nn::Module {
 public:
  UpDecoderBlock2DImpl(int64_t in_channels, int64_t out_channels, int64_t layers, bool add_upsample,
                       const VaeConfig& config);
  // x: [B, C_in, H, W] -> [B, C_out, 2H, 2W] (or [B, C_out, H, W] without upsampler)
  torch::Tensor forward(torch::Tensor x);

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList upsamplers{nullptr};  // absent in the last block

 private:
  std::vector<ResnetBlock2D> resnet_list_;
  Upsample2D upsampler_{nullptr};
};
TORCH_MODULE(UpDecoderBlock2D);

// diffusers' UNetMidBlock2D with the VAE's settings: resnet, [single-head self-attention over all
// H*W positions with its own GroupNorm and a residual connection], resnet.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int64_t channels, const VaeConfig& config);
  // x: [B, C, H, W] -> [B, C, H, W]
  torch::Tensor forward(torch::Tensor x);

  torch::nn::ModuleList attentions{nullptr};  // empty when mid_block_add_attention is false
  torch::nn::ModuleList resnets{nullptr};

 private:
  std::vector<ResnetBlock2D> resnet_list_;
  Attention attention_{nullptr};
};
TORCH_MODULE(VaeMidBlock);

// Image -> 2*latent_channels moments (mean and log-variance, before quant_conv).
class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(const VaeConfig& config);
  // image: [B, in_channels, H, W] -> [B, 2*latent_channels, H/f, W/f], f = config.downscale_factor()
  torch::Tensor forward(const torch::Tensor& image);

  torch::nn::Conv2d conv_in{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  VaeMidBlock mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};

 private:
  std::vector<DownEncoderBlock2D> block_list_;
};
TORCH_MODULE(VaeEncoder);

// Latents (after post_quant_conv) -> image.
class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(const VaeConfig& config);
  // z: [B, latent_channels, h, w] -> [B, out_channels, h*f, w*f]
  torch::Tensor forward(const torch::Tensor& z);

  torch::nn::Conv2d conv_in{nullptr};
  VaeMidBlock mid_block{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};

 private:
  std::vector<UpDecoderBlock2D> block_list_;
};
TORCH_MODULE(VaeDecoder);

}  // namespace gligen::nets
