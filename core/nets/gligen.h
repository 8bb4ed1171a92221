// The GLIGEN grounding layers of diffusers v0.27.2: the position net that turns (phrase
// embedding, box) pairs into grounding tokens (embeddings.py GLIGENTextBoundingboxProjection,
// get_fourier_embeds_from_boundingbox) and the gated self-attention "fuser" inserted after
// self-attention in every transformer block (attention.py GatedSelfAttentionDense).
#pragma once
#include <torch/torch.h>

#include "core/nets/attention.h"

namespace gligen::nets {

// The grounding inputs of one UNet call (diffusers' cross_attention_kwargs["gligen"]).
struct GroundingInputs {
  torch::Tensor boxes;                // [B, N, 4] (x0, y0, x1, y1) in [0, 1]
  torch::Tensor positive_embeddings;  // [B, N, D] phrase embeddings (text encoder pooler_output)
  torch::Tensor masks;                // [B, N], 1 for a real object, 0 for padding
};

// Fourier features of boxes. boxes: [B, N, 4] -> [B, N, 8*num_freqs]: for each k < num_freqs,
// sin then cos of 100^(k/num_freqs) * c, each over the coordinates (x0, y0, x1, y1):
// layout [k][sin, cos][coordinate].
torch::Tensor fourier_box_embedding(const torch::Tensor& boxes, int64_t num_freqs);

// GLIGENTextBoundingboxProjection with feature_type "text-only" (registered as position_net).
// objs = linears(cat(emb·m + (1-m)·null_positive_feature, fourier(box)·m + (1-m)·null_position_feature)),
// linears = Linear(D + 8F, 512), SiLU, Linear(512, 512), SiLU, Linear(512, out_dim).
class PositionNetImpl : public torch::nn::Module {
 public:
  PositionNetImpl(int64_t positive_len, int64_t out_dim, int64_t fourier_freqs = 8);
  // Returns objs: [B, N, out_dim]. Masked-out slots get the null features whatever their
  // boxes/embeddings hold (finite values assumed, as in diffusers).
  torch::Tensor forward(const GroundingInputs& inputs);

  torch::Tensor null_positive_feature;  // [positive_len]
  torch::Tensor null_position_feature;  // [8 * fourier_freqs]
  torch::nn::Sequential linears{nullptr};

  int64_t positive_len() const { return positive_len_; }

 private:
  int64_t positive_len_;
  int64_t fourier_freqs_;
};
TORCH_MODULE(PositionNet);

// GatedSelfAttentionDense ("fuser"): with grounding tokens o = linear(objs),
//   x = x + tanh(alpha_attn) · attn(norm1(cat[x, o]))[:, :n_visual]
//   x = x + tanh(alpha_dense) · ff(norm2(x))
// `enabled` = false makes it the identity (the pipeline's scheduled sampling).
class GatedSelfAttentionDenseImpl : public torch::nn::Module {
 public:
  GatedSelfAttentionDenseImpl(int64_t query_dim, int64_t context_dim, int64_t heads, int64_t dim_head);
  // x: [B, n_visual, query_dim], objs: [B, N, context_dim] -> [B, n_visual, query_dim]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& objs);

  bool enabled = true;

  torch::Tensor alpha_attn, alpha_dense;  // scalars, 0 at init (closed gates)
  torch::nn::Linear linear{nullptr};
  Attention attn{nullptr};
  FeedForward ff{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
};
TORCH_MODULE(GatedSelfAttentionDense);

}  // namespace gligen::nets
