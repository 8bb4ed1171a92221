#include "core/nets/unet_blocks.h"

namespace gligen::nets {

namespace {

ResnetBlock2D make_resnet(const UNetBlockOptions& o, int64_t in, int64_t out) {
  return ResnetBlock2D(ResnetBlock2DOptions(in, out)
                           .temb_channels(o.temb_channels)
                           .groups(o.groups)
                           .eps(o.resnet_eps)
                           .non_linearity(o.act)
                           .time_embedding_norm(o.time_embedding_norm)
                           .output_scale_factor(o.output_scale_factor));
}

Transformer2D make_transformer(const UNetBlockOptions& o, int64_t channels, bool only_cross_attention) {
  return Transformer2D(TransformerOptions(o.heads, channels / o.heads, channels)
                           .num_layers(o.transformer_layers)
                           .cross_attention_dim(o.cross_attention_dim)
                           .norm_num_groups(o.groups)
                           .use_linear_projection(o.use_linear_projection)
                           .only_cross_attention(only_cross_attention)
                           .upcast_attention(o.upcast_attention)
                           .gated(o.gated));
}

}  // namespace

DownBlockImpl::DownBlockImpl(const UNetBlockOptions& o) {
  // diffusers registers attentions before resnets in the cross-attention blocks.
  if (o.has_attention) attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    resnets_.push_back(make_resnet(o, i == 0 ? o.in_channels : o.out_channels, o.out_channels));
    resnets->push_back(resnets_.back());
    if (o.has_attention) {
      attentions_.push_back(make_transformer(o, o.out_channels, o.only_cross_attention));
      attentions->push_back(attentions_.back());
    }
  }
  if (o.add_sampler) {
    downsampler_ =
        Downsample2D(Downsample2DOptions(o.out_channels).out_channels(o.out_channels).padding(o.downsample_padding));
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(downsampler_));
  }
}

torch::Tensor DownBlockImpl::forward(torch::Tensor x, const UNetContext& ctx, std::vector<torch::Tensor>& skips) {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    x = resnets_[i](x, ctx.temb);  // [B, C_out, H, W]
    if (!attentions_.empty()) x = attentions_[i](x, ctx.text, ctx.objs);
    skips.push_back(x);
  }
  if (downsampler_) {
    x = downsampler_(x);  // [B, C_out, ceil(H/2), ceil(W/2)]
    skips.push_back(x);
  }
  return x;
}

MidBlockCrossAttnImpl::MidBlockCrossAttnImpl(const UNetBlockOptions& o) {
  attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  resnets_.push_back(make_resnet(o, o.in_channels, o.in_channels));
  resnets->push_back(resnets_.back());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    // The mid block never passes only_cross_attention to its transformers (diffusers v0.27.2).
    attentions_.push_back(make_transformer(o, o.in_channels, false));
    attentions->push_back(attentions_.back());
    resnets_.push_back(make_resnet(o, o.in_channels, o.in_channels));
    resnets->push_back(resnets_.back());
  }
}

torch::Tensor MidBlockCrossAttnImpl::forward(torch::Tensor x, const UNetContext& ctx) {
  x = resnets_[0](x, ctx.temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    x = attentions_[i](x, ctx.text, ctx.objs);
    x = resnets_[i + 1](x, ctx.temb);
  }
  return x;
}

UpBlockImpl::UpBlockImpl(const UNetBlockOptions& o) {
  if (o.has_attention) attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    // The last resnet of a stage takes the skip from the previous stage (in_channels wide).
    const int64_t skip_channels = (i == o.num_layers - 1) ? o.in_channels : o.out_channels;
    const int64_t resnet_in = (i == 0) ? o.prev_output_channels : o.out_channels;
    resnets_.push_back(make_resnet(o, resnet_in + skip_channels, o.out_channels));
    resnets->push_back(resnets_.back());
    if (o.has_attention) {
      attentions_.push_back(make_transformer(o, o.out_channels, o.only_cross_attention));
      attentions->push_back(attentions_.back());
    }
  }
  if (o.add_sampler) {
    upsampler_ = Upsample2D(Upsample2DOptions(o.out_channels).out_channels(o.out_channels));
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(upsampler_));
  }
}

torch::Tensor UpBlockImpl::forward(torch::Tensor x, const UNetContext& ctx, std::vector<torch::Tensor>& skips,
                                   std::optional<std::vector<int64_t>> upsample_size) {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    TORCH_CHECK(!skips.empty(), "UNet up block ran out of skip connections");
    x = torch::cat({x, skips.back()}, 1);  // [B, C + C_skip, H, W]
    skips.pop_back();
    x = resnets_[i](x, ctx.temb);  // [B, C_out, H, W]
    if (!attentions_.empty()) x = attentions_[i](x, ctx.text, ctx.objs);
  }
  if (upsampler_) x = upsampler_(x, std::move(upsample_size));  // [B, C_out, 2H, 2W] or the skip's size
  return x;
}

}  // namespace gligen::nets
