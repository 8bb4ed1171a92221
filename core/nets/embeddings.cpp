#include "core/nets/embeddings.h"

#include <cmath>

namespace gligen::nets {

torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                                 double downscale_freq_shift, double scale, double max_period) {
  TORCH_CHECK(timesteps.dim() == 1, "timestep_embedding expects a 1-D tensor of timesteps, got ", timesteps.sizes());
  const int64_t half = dim / 2;
  // Same float32 operation order as diffusers: arange * (-ln max_period), / (half - shift), exp.
  auto exponent = torch::arange(0, half, torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device())) *
                  (-std::log(max_period));
  exponent = exponent / (static_cast<double>(half) - downscale_freq_shift);
  auto freqs = torch::exp(exponent);                                            // [half]
  auto args = timesteps.unsqueeze(1).to(torch::kFloat32) * freqs.unsqueeze(0);  // [B, half]
  if (scale != 1.0) args = args * scale;
  auto emb = flip_sin_to_cos ? torch::cat({torch::cos(args), torch::sin(args)}, -1)
                             : torch::cat({torch::sin(args), torch::cos(args)}, -1);  // [B, 2*half]
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1, 0, 0}, 0);
  return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim, Activation act) : act_(act) {
  linear_1 = register_module("linear_1", torch::nn::Linear(in_channels, time_embed_dim));
  linear_2 = register_module("linear_2", torch::nn::Linear(time_embed_dim, time_embed_dim));
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& x) {
  return linear_2(apply_activation(act_, linear_1(x)));
}

}  // namespace gligen::nets
