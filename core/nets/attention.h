// Multi-head attention and the GEGLU feed-forward of diffusers v0.27.2
// (models/attention_processor.py Attention with AttnProcessor, the processor diffusers uses on
// torch 1.13; models/attention.py FeedForward / GEGLU). Keys: [group_norm,] to_q, to_k, to_v,
// to_out.0 and ff.net.0.proj, ff.net.2, as in diffusers checkpoints.
#pragma once
#include <torch/torch.h>

#include <optional>

namespace gligen::nets {

// layer(x) through ATen's linear, which computes a 3-D input's bias in the GEMM (addmm); the C++
// frontend's Linear::forward multiplies and then adds the bias in a second pass over the output.
torch::Tensor linear_forward(const torch::nn::Linear& layer, const torch::Tensor& x);

struct AttentionOptions {
  explicit AttentionOptions(int64_t query_dim) : query_dim_(query_dim) {}
  TORCH_ARG(int64_t, query_dim);
  // Width of encoder_hidden_states for cross-attention; nullopt = query_dim (self-attention).
  TORCH_ARG(std::optional<int64_t>, cross_attention_dim) = std::nullopt;
  TORCH_ARG(int64_t, heads) = 8;
  TORCH_ARG(int64_t, dim_head) = 64;
  TORCH_ARG(bool, bias) = false;              // to_q / to_k / to_v
  TORCH_ARG(bool, out_bias) = true;           // to_out.0
  TORCH_ARG(bool, upcast_attention) = false;  // scores in float32 for half inputs
  TORCH_ARG(bool, upcast_softmax) = false;    // softmax in float32 for half inputs
  // A GroupNorm over channels applied to the input first (the VAE mid-block attention).
  TORCH_ARG(std::optional<int64_t>, norm_num_groups) = std::nullopt;
  TORCH_ARG(double, eps) = 1e-5;                              // of group_norm
  TORCH_ARG(bool, residual_connection) = false;               // add the (un-normalised) input to the output
  TORCH_ARG(double, rescale_output_factor) = 1.0;             // output divided by this, after the residual
  TORCH_ARG(std::optional<int64_t>, out_dim) = std::nullopt;  // nullopt = query_dim
};

// softmax(q kᵀ · dim_head^-0.5) v per head, then to_out.0. Dropout (to_out.1) is the identity.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& options);

  // x: [B, N, query_dim], or [B, C, H, W] (treated as N = H*W tokens and returned in that shape).
  // context: [B, M, cross_attention_dim], or undefined for self-attention.
  // Returns [B, N, out_dim] (or [B, C, H, W]).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

  const AttentionOptions& options() const { return options_; }

  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out{nullptr};  // [0] = Linear(inner, out_dim); diffusers' [1] is Dropout

 private:
  AttentionOptions options_;
  double scale_;
  torch::nn::Linear out_proj_{nullptr};  // to_out[0], typed
};
TORCH_MODULE(Attention);

// The core of scaled dot-product attention on head-split tensors.
// q: [B, H, N, d], k / v: [B, H, M, d] -> [B, H, N, d]. Scores are q kᵀ · scale, optionally
// computed (upcast_scores) or normalised (upcast_softmax) in float32.
torch::Tensor attention_core(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
                             bool upcast_scores, bool upcast_softmax);

// GEGLU: proj(x) split in (h, gate) along the last axis, h * gelu(gate) (exact erf GELU).
class GEGLUImpl : public torch::nn::Module {
 public:
  GEGLUImpl(int64_t dim_in, int64_t dim_out, bool bias = true);
  // x: [..., dim_in] -> [..., dim_out]
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

// diffusers FeedForward with activation "geglu": net.0 = GEGLU(dim, mult*dim), net.1 = Dropout,
// net.2 = Linear(mult*dim, dim_out). Only GEGLU is implemented (every SD 1.x / GLIGEN block).
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, std::optional<int64_t> dim_out = std::nullopt, int64_t mult = 4, bool bias = true);
  // x: [..., dim] -> [..., dim_out]
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::ModuleList net{nullptr};

 private:
  GEGLU geglu_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace gligen::nets
