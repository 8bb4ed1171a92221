// The SD 1.x UNet stages of diffusers v0.27.2 (unets/unet_2d_blocks.py): CrossAttnDownBlock2D,
// DownBlock2D, UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D, UpBlock2D. Keys: resnets.j,
// attentions.j, downsamplers.0.conv, upsamplers.0.conv.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "core/nets/resnet.h"
#include "core/nets/transformer.h"

namespace gligen::nets {

// What one stage is built from (the arguments UNet2DConditionModel passes to get_*_block).
struct UNetBlockOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t prev_output_channels = 0;  // up blocks: width coming from the stage below
  int64_t temb_channels = 0;
  int64_t num_layers = 1;
  int64_t transformer_layers = 1;  // BasicTransformerBlocks per Transformer2D
  double resnet_eps = 1e-5;
  Activation act = Activation::SiLU;
  int64_t groups = 32;
  std::string time_embedding_norm = "default";
  double output_scale_factor = 1.0;  // the mid block's resnets (mid_block_scale_factor)
  bool has_attention = false;        // CrossAttn* blocks
  int64_t cross_attention_dim = 768;
  int64_t heads = 8;  // head width = out_channels / heads
  bool use_linear_projection = false;
  bool only_cross_attention = false;
  bool upcast_attention = false;
  bool gated = false;
  bool add_sampler = false;  // downsampler / upsampler at the end of the stage
  int64_t downsample_padding = 1;
};

// The per-call inputs every attention stage needs.
struct UNetContext {
  torch::Tensor temb;  // [B, time_embed_dim]
  torch::Tensor text;  // encoder_hidden_states [B, T, cross_dim]
  torch::Tensor objs;  // grounding tokens [B, M, cross_dim] or undefined (fusers skipped)
};

// (resnet -> [attention])* -> [downsampler]. Every intermediate output is a skip connection.
class DownBlockImpl : public torch::nn::Module {
 public:
  explicit DownBlockImpl(const UNetBlockOptions& options);
  // x: [B, C_in, H, W] -> [B, C_out, H', W']; appends num_layers (+1) skips to `skips`.
  torch::Tensor forward(torch::Tensor x, const UNetContext& ctx, std::vector<torch::Tensor>& skips);

  torch::nn::ModuleList attentions{nullptr}, resnets{nullptr}, downsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
  Downsample2D downsampler_{nullptr};
};
TORCH_MODULE(DownBlock);

// resnets.0 -> (attentions.i -> resnets.i+1)*.
class MidBlockCrossAttnImpl : public torch::nn::Module {
 public:
  explicit MidBlockCrossAttnImpl(const UNetBlockOptions& options);
  torch::Tensor forward(torch::Tensor x, const UNetContext& ctx);  // [B, C, H, W] -> same

  torch::nn::ModuleList attentions{nullptr}, resnets{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
};
TORCH_MODULE(MidBlockCrossAttn);

// (cat(x, skip) -> resnet -> [attention])* -> [upsampler]. Consumes num_layers skips from the back.
class UpBlockImpl : public torch::nn::Module {
 public:
  explicit UpBlockImpl(const UNetBlockOptions& options);
  // x: [B, C_prev, H, W]; `upsample_size` forces the upsampler's output size (odd latent sides).
  torch::Tensor forward(torch::Tensor x, const UNetContext& ctx, std::vector<torch::Tensor>& skips,
                        std::optional<std::vector<int64_t>> upsample_size = std::nullopt);

  int64_t num_layers() const { return static_cast<int64_t>(resnets_.size()); }

  torch::nn::ModuleList attentions{nullptr}, resnets{nullptr}, upsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
  Upsample2D upsampler_{nullptr};
};
TORCH_MODULE(UpBlock);

}  // namespace gligen::nets
