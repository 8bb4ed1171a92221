#include "core/nets/gligen.h"

#include "core/util/error.h"

namespace gligen::nets {

torch::Tensor fourier_box_embedding(const torch::Tensor& boxes, int64_t num_freqs) {
  TORCH_CHECK(boxes.dim() == 3 && boxes.size(2) == 4, "boxes must be [B, N, 4], got ", boxes.sizes());
  const int64_t B = boxes.size(0), N = boxes.size(1);
  // 100^(k / F) in the boxes' dtype, as diffusers computes it: pow(100, arange(F) / F).
  auto k = torch::arange(num_freqs, boxes.options()) / static_cast<double>(num_freqs);
  auto freqs = torch::pow(100.0, k);                                       // [F]
  auto args = freqs.view({1, 1, 1, num_freqs}) * boxes.unsqueeze(-1);      // [B, N, 4, F]
  auto emb = torch::stack({args.sin(), args.cos()}, -1);                   // [B, N, 4, F, 2]
  return emb.permute({0, 1, 3, 4, 2}).reshape({B, N, num_freqs * 2 * 4});  // [B, N, F*2*4]
}

PositionNetImpl::PositionNetImpl(int64_t positive_len, int64_t out_dim, int64_t fourier_freqs)
    : positive_len_(positive_len), fourier_freqs_(fourier_freqs) {
  const int64_t position_dim = fourier_freqs * 2 * 4;
  // Own parameters come before the submodule in named_parameters(), as in the checkpoints.
  null_positive_feature = register_parameter("null_positive_feature", torch::zeros({positive_len}));
  null_position_feature = register_parameter("null_position_feature", torch::zeros({position_dim}));
  linears = register_module("linears", torch::nn::Sequential(torch::nn::Linear(positive_len + position_dim, 512),
                                                             torch::nn::SiLU(), torch::nn::Linear(512, 512),
                                                             torch::nn::SiLU(), torch::nn::Linear(512, out_dim)));
}

torch::Tensor PositionNetImpl::forward(const GroundingInputs& in) {
  if (!in.boxes.defined() || !in.positive_embeddings.defined() || !in.masks.defined())
    throw Error("grounding inputs need boxes, positive_embeddings and masks");
  const auto& boxes = in.boxes;
  if (boxes.dim() != 3 || boxes.size(2) != 4)
    throw Error("grounding boxes must be [batch, objects, 4], got " + c10::str(boxes.sizes()));
  const int64_t B = boxes.size(0), N = boxes.size(1);
  if (in.positive_embeddings.dim() != 3 || in.positive_embeddings.size(0) != B || in.positive_embeddings.size(1) != N ||
      in.positive_embeddings.size(2) != positive_len_)
    throw Error("grounding phrase embeddings must be [" + std::to_string(B) + ", " + std::to_string(N) + ", " +
                std::to_string(positive_len_) + "] to match the boxes and this model, got " +
                c10::str(in.positive_embeddings.sizes()));
  if (in.masks.dim() != 2 || in.masks.size(0) != B || in.masks.size(1) != N)
    throw Error("grounding masks must be [" + std::to_string(B) + ", " + std::to_string(N) + "], got " +
                c10::str(in.masks.sizes()));

  const auto dtype = null_position_feature.scalar_type();
  auto m = in.masks.to(dtype).unsqueeze(-1);  // [B, N, 1]
  auto keep_null = 1 - m;
  auto xyxy = fourier_box_embedding(boxes.to(dtype), fourier_freqs_);  // [B, N, 8F]
  xyxy = xyxy * m + keep_null * null_position_feature.view({1, 1, -1});
  auto positive = in.positive_embeddings.to(dtype) * m + keep_null * null_positive_feature.view({1, 1, -1});
  return linears->forward(torch::cat({positive, xyxy}, -1));  // [B, N, out_dim]
}

GatedSelfAttentionDenseImpl::GatedSelfAttentionDenseImpl(int64_t query_dim, int64_t context_dim, int64_t heads,
                                                         int64_t dim_head) {
  alpha_attn = register_parameter("alpha_attn", torch::zeros({}));
  alpha_dense = register_parameter("alpha_dense", torch::zeros({}));
  linear = register_module("linear", torch::nn::Linear(context_dim, query_dim));
  attn = register_module("attn", Attention(AttentionOptions(query_dim).heads(heads).dim_head(dim_head)));
  ff = register_module("ff", FeedForward(query_dim));
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({query_dim})));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({query_dim})));
}

torch::Tensor GatedSelfAttentionDenseImpl::forward(const torch::Tensor& x, const torch::Tensor& objs) {
  if (!enabled) return x;
  const int64_t n_visual = x.size(1);
  auto o = linear_forward(linear, objs);       // [B, N, query_dim]
  auto tokens = norm1(torch::cat({x, o}, 1));  // [B, n_visual + N, query_dim]
  // Only the visual rows of the self-attention are kept, so only they are computed: queries from
  // the visual tokens, keys and values from all (each query row's result is independent of the
  // others). At 256x256 the grounding tokens are 3% of the rows at 32x32 but 32% at 8x8 and 65% at 4x4.
  auto a = attn(tokens.narrow(1, 0, n_visual), tokens);  // [B, n_visual, query_dim]
  auto h = x + alpha_attn.tanh() * a;                    // [B, n_visual, query_dim]
  return h + alpha_dense.tanh() * ff(norm2(h));
}

}  // namespace gligen::nets
