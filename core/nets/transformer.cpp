#include "core/nets/transformer.h"

namespace gligen::nets {

BasicTransformerBlockImpl::BasicTransformerBlockImpl(const TransformerOptions& o)
    : only_cross_attention_(o.only_cross_attention()) {
  const int64_t dim = o.heads() * o.dim_head();
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(o.norm_eps())); };
  norm1 = register_module("norm1", ln());
  auto self_opts = AttentionOptions(dim).heads(o.heads()).dim_head(o.dim_head()).upcast_attention(o.upcast_attention());
  // only_cross_attention: attn1 attends to the text too.
  if (o.only_cross_attention()) self_opts.cross_attention_dim(o.cross_attention_dim());
  attn1 = register_module("attn1", Attention(self_opts));
  if (o.cross_attention_dim()) {
    norm2 = register_module("norm2", ln());
    attn2 = register_module("attn2", Attention(AttentionOptions(dim)
                                                   .cross_attention_dim(o.cross_attention_dim())
                                                   .heads(o.heads())
                                                   .dim_head(o.dim_head())
                                                   .upcast_attention(o.upcast_attention())));
  }
  norm3 = register_module("norm3", ln());
  ff = register_module("ff", FeedForward(dim));
  if (o.gated()) {
    fuser = register_module(
        "fuser", GatedSelfAttentionDense(dim, o.cross_attention_dim().value_or(dim), o.heads(), o.dim_head()));
  }
}

torch::Tensor BasicTransformerBlockImpl::forward(torch::Tensor x, const torch::Tensor& context,
                                                 const torch::Tensor& objs) {
  // x: [B, N, dim]. Each sublayer's output is fresh, so the residual is added into it in place.
  auto h = attn1(norm1(x), only_cross_attention_ ? context : torch::Tensor());
  x = h.add_(x);
  if (objs.defined() && fuser) x = fuser(x, objs);
  if (attn2) {
    h = attn2(norm2(x), context);  // [B, N, dim]
    x = h.add_(x);
  }
  h = ff(norm3(x));
  return h.add_(x);  // [B, N, dim]
}

Transformer2DImpl::Transformer2DImpl(const TransformerOptions& o) : options_(o) {
  const int64_t inner = o.heads() * o.dim_head();
  const int64_t C = o.in_channels();
  norm = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.norm_num_groups(), C).eps(1e-6)));
  if (o.use_linear_projection()) {
    proj_in_any = torch::nn::AnyModule(register_module("proj_in", torch::nn::Linear(C, inner)));
  } else {
    proj_in_any =
        torch::nn::AnyModule(register_module("proj_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(C, inner, 1))));
  }
  transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers(); ++i) {
    blocks_.push_back(BasicTransformerBlock(o));
    transformer_blocks->push_back(blocks_.back());
  }
  if (o.use_linear_projection()) {
    proj_out_any = torch::nn::AnyModule(register_module("proj_out", torch::nn::Linear(inner, C)));
  } else {
    proj_out_any =
        torch::nn::AnyModule(register_module("proj_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(inner, C, 1))));
  }
}

torch::Tensor Transformer2DImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                         const torch::Tensor& objs) {
  // x: [B, C, H, W]
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const bool linear = options_.use_linear_projection();
  auto h = norm(x);
  int64_t inner;
  if (!linear) {
    h = proj_in_any.forward(h);  // [B, inner, H, W]
    inner = h.size(1);
    h = h.permute({0, 2, 3, 1}).reshape({B, H * W, inner});  // [B, HW, inner]
  } else {
    h = h.permute({0, 2, 3, 1}).reshape({B, H * W, h.size(1)});
    h = proj_in_any.forward(h);  // [B, HW, inner]
    inner = h.size(2);
  }
  for (auto& block : blocks_) h = block(h, context, objs);
  if (!linear) {
    h = h.reshape({B, H, W, inner}).permute({0, 3, 1, 2}).contiguous();  // [B, inner, H, W]
    h = proj_out_any.forward(h);                                         // [B, C, H, W]
  } else {
    h = proj_out_any.forward(h);
    h = h.reshape({B, H, W, h.size(2)}).permute({0, 3, 1, 2}).contiguous();
  }
  return h.add_(x);  // [B, C, H, W]
}

}  // namespace gligen::nets
