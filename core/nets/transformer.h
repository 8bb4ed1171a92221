// The spatial transformer of SD 1.x UNets, as diffusers v0.27.2 builds it for
// CrossAttnDown/Up blocks and the cross-attention mid block (transformers/transformer_2d.py
// Transformer2DModel with continuous input; attention.py BasicTransformerBlock, layer_norm type,
// GEGLU feed-forward, plus the GLIGEN fuser when attention_type is "gated").
#pragma once
#include <torch/torch.h>

#include <optional>

#include "core/nets/attention.h"
#include "core/nets/gligen.h"

namespace gligen::nets {

struct TransformerOptions {
  TransformerOptions(int64_t heads, int64_t dim_head, int64_t in_channels)
      : heads_(heads), dim_head_(dim_head), in_channels_(in_channels) {}
  TORCH_ARG(int64_t, heads);
  TORCH_ARG(int64_t, dim_head);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, num_layers) = 1;
  TORCH_ARG(std::optional<int64_t>, cross_attention_dim) = std::nullopt;
  TORCH_ARG(int64_t, norm_num_groups) = 32;
  TORCH_ARG(bool, use_linear_projection) = false;
  TORCH_ARG(bool, only_cross_attention) = false;
  TORCH_ARG(bool, upcast_attention) = false;
  TORCH_ARG(bool, gated) = false;      // attention_type "gated": every block gets a fuser
  TORCH_ARG(double, norm_eps) = 1e-5;  // LayerNorms inside the blocks
};

// norm1 -> attn1 (self) -> [fuser] -> norm2 -> attn2 (cross) -> norm3 -> ff, each residual.
class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  explicit BasicTransformerBlockImpl(const TransformerOptions& options);
  // x: [B, N, dim], context: [B, T, cross_dim], objs: [B, M, cross_dim] grounding tokens or
  // undefined (then the fuser is skipped, as diffusers does without gligen kwargs).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& context, const torch::Tensor& objs = {});

  torch::nn::LayerNorm norm1{nullptr};
  Attention attn1{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Attention attn2{nullptr};
  torch::nn::LayerNorm norm3{nullptr};
  FeedForward ff{nullptr};
  GatedSelfAttentionDense fuser{nullptr};  // only when gated

 private:
  bool only_cross_attention_;
};
TORCH_MODULE(BasicTransformerBlock);

// GroupNorm (eps 1e-6) -> proj_in (1x1 conv or linear) -> blocks -> proj_out -> + input.
class Transformer2DImpl : public torch::nn::Module {
 public:
  explicit Transformer2DImpl(const TransformerOptions& options);
  // x: [B, C, H, W], context: [B, T, cross_dim], objs: [B, M, cross_dim] or undefined.
  // Returns [B, C, H, W].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& objs = {});

  torch::nn::GroupNorm norm{nullptr};
  torch::nn::AnyModule proj_in_any, proj_out_any;  // Conv2d(1x1) or Linear
  torch::nn::ModuleList transformer_blocks{nullptr};

 private:
  TransformerOptions options_;
  std::vector<BasicTransformerBlock> blocks_;
};
TORCH_MODULE(Transformer2D);

}  // namespace gligen::nets
