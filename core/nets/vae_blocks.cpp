#include "core/nets/vae_blocks.h"

namespace gligen::nets {
namespace {

// Every VAE resnet: no time embedding, eps 1e-6, the config's groups and activation.
ResnetBlock2D vae_resnet(int64_t in_channels, int64_t out_channels, const VaeConfig& config) {
  return ResnetBlock2D(ResnetBlock2DOptions(in_channels, out_channels)
                           .temb_channels(std::nullopt)
                           .groups(config.norm_num_groups)
                           .eps(1e-6)
                           .non_linearity(activation_from_name(config.act_fn, "VAE act_fn")));
}

// The encoder's and decoder's output head: GroupNorm(eps 1e-6), SiLU, 3x3 conv. diffusers hard-codes
// SiLU here (conv_act = nn.SiLU()) whatever act_fn says. `h` is a block output nothing else reads.
torch::Tensor output_head(torch::nn::GroupNorm norm, torch::nn::Conv2d conv, const torch::Tensor& h) {
  return conv(silu_fresh(norm(h)));
}

}  // namespace

DownEncoderBlock2DImpl::DownEncoderBlock2DImpl(int64_t in_channels, int64_t out_channels, int64_t layers,
                                               bool add_downsample, const VaeConfig& config) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) {
    resnet_list_.push_back(vae_resnet(i == 0 ? in_channels : out_channels, out_channels, config));
    resnets->push_back(resnet_list_.back());
  }
  if (add_downsample) {
    downsampler_ = Downsample2D(Downsample2DOptions(out_channels).use_conv(true).out_channels(out_channels).padding(0));
    downsamplers = register_module("downsamplers", torch::nn::ModuleList());
    downsamplers->push_back(downsampler_);
  }
}

torch::Tensor DownEncoderBlock2DImpl::forward(torch::Tensor x) {
  // x: [B, C_in, H, W]
  for (auto& resnet : resnet_list_) x = resnet(x);  // [B, C_out, H, W]
  if (downsampler_) x = downsampler_(x);            // [B, C_out, H/2, W/2]
  return x;
}

UpDecoderBlock2DImpl::UpDecoderBlock2DImpl(int64_t in_channels, int64_t out_channels, int64_t layers, bool add_upsample,
                                           const VaeConfig& config) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) {
    resnet_list_.push_back(vae_resnet(i == 0 ? in_channels : out_channels, out_channels, config));
    resnets->push_back(resnet_list_.back());
  }
  if (add_upsample) {
    upsampler_ = Upsample2D(Upsample2DOptions(out_channels).use_conv(true).out_channels(out_channels));
    upsamplers = register_module("upsamplers", torch::nn::ModuleList());
    upsamplers->push_back(upsampler_);
  }
}

torch::Tensor UpDecoderBlock2DImpl::forward(torch::Tensor x) {
  // x: [B, C_in, H, W]
  for (auto& resnet : resnet_list_) x = resnet(x);  // [B, C_out, H, W]
  if (upsampler_) x = upsampler_(x);                // [B, C_out, 2H, 2W]
  return x;
}

VaeMidBlockImpl::VaeMidBlockImpl(int64_t channels, const VaeConfig& config) {
  // diffusers registers `attentions` before `resnets`: that is the checkpoint key order.
  attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  if (config.mid_block_add_attention) {
    // attention_head_dim = channels, so a single head of width C; GroupNorm eps is resnet_eps.
    attention_ = Attention(AttentionOptions(channels)
                               .heads(1)
                               .dim_head(channels)
                               .bias(true)
                               .upcast_softmax(true)
                               .norm_num_groups(config.norm_num_groups)
                               .eps(1e-6)
                               .residual_connection(true)
                               .rescale_output_factor(1.0));
    attentions->push_back(attention_);
  }
  for (int i = 0; i < 2; ++i) {
    resnet_list_.push_back(vae_resnet(channels, channels, config));
    resnets->push_back(resnet_list_.back());
  }
}

torch::Tensor VaeMidBlockImpl::forward(torch::Tensor x) {
  // x: [B, C, H, W]
  x = resnet_list_[0](x);
  if (attention_) x = attention_(x);  // self-attention over the H*W positions, + x
  return resnet_list_[1](x);          // [B, C, H, W]
}

VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& config) {
  const auto& widths = config.block_out_channels;
  const int64_t last = widths.back();
  conv_in = register_module("conv_in",
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, widths[0], 3).padding(1)));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int64_t channels = widths[0];
  for (size_t i = 0; i < widths.size(); ++i) {
    const bool is_final = i + 1 == widths.size();
    block_list_.push_back(
        DownEncoderBlock2D(channels, widths[i], config.layers_per_block, /*add_downsample=*/!is_final, config));
    down_blocks->push_back(block_list_.back());
    channels = widths[i];
  }
  mid_block = register_module("mid_block", VaeMidBlock(last, config));
  conv_norm_out = register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(config.norm_num_groups, last).eps(1e-6)));
  // double_z: mean and log-variance for every latent channel.
  conv_out = register_module(
      "conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(last, 2 * config.latent_channels, 3).padding(1)));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& image) {
  // image: [B, in_channels, H, W]
  auto h = conv_in(image);                       // [B, C0, H, W]
  for (auto& block : block_list_) h = block(h);  // [B, C_last, H/f, W/f]
  h = mid_block(h);
  return output_head(conv_norm_out, conv_out, h);  // [B, 2*latent, H/f, W/f]
}

VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& config) {
  const auto& widths = config.block_out_channels;
  const int64_t last = widths.back();
  conv_in = register_module("conv_in",
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(config.latent_channels, last, 3).padding(1)));
  // diffusers registers up_blocks before mid_block (mid_block is assigned None first, then the
  // up_blocks list, then the real mid block), so checkpoints list decoder.up_blocks.* first.
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  mid_block = register_module("mid_block", VaeMidBlock(last, config));
  int64_t channels = last;
  for (size_t i = 0; i < widths.size(); ++i) {
    const int64_t out = widths[widths.size() - 1 - i];
    const bool is_final = i + 1 == widths.size();
    // The decoder's blocks have one more resnet than the encoder's.
    block_list_.push_back(
        UpDecoderBlock2D(channels, out, config.layers_per_block + 1, /*add_upsample=*/!is_final, config));
    up_blocks->push_back(block_list_.back());
    channels = out;
  }
  conv_norm_out = register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(config.norm_num_groups, widths[0]).eps(1e-6)));
  conv_out = register_module("conv_out",
                             torch::nn::Conv2d(torch::nn::Conv2dOptions(widths[0], config.out_channels, 3).padding(1)));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z) {
  // z: [B, latent, h, w]
  auto h = conv_in(z);  // [B, C_last, h, w]
  h = mid_block(h);
  for (auto& block : block_list_) h = block(h);    // [B, C0, h*f, w*f]
  return output_head(conv_norm_out, conv_out, h);  // [B, out_channels, h*f, w*f]
}

}  // namespace gligen::nets
