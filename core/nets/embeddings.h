// Timestep embeddings of diffusers v0.27.2 (models/embeddings.py get_timestep_embedding,
// Timesteps, TimestepEmbedding).
#pragma once
#include <torch/torch.h>

#include "core/nets/activation.h"

namespace gligen::nets {

// Sinusoidal embedding of (possibly fractional) timesteps, always float32.
// timesteps: [B] (any numeric dtype) -> [B, dim]. Frequencies exp(-ln(max_period) * i / (dim/2 - shift)),
// i = 0..dim/2-1; [sin, cos] halves, swapped to [cos, sin] when flip_sin_to_cos; odd dim gets a zero column.
torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                                 double downscale_freq_shift, double scale = 1.0, double max_period = 10000.0);

// diffusers' `Timesteps` (the UNet's time_proj): no parameters.
class TimestepsImpl : public torch::nn::Module {
 public:
  TimestepsImpl(int64_t num_channels, bool flip_sin_to_cos, double downscale_freq_shift)
      : num_channels_(num_channels), flip_sin_to_cos_(flip_sin_to_cos), shift_(downscale_freq_shift) {}
  // timesteps: [B] -> [B, num_channels] float32
  torch::Tensor forward(const torch::Tensor& timesteps) {
    return timestep_embedding(timesteps, num_channels_, flip_sin_to_cos_, shift_);
  }

 private:
  int64_t num_channels_;
  bool flip_sin_to_cos_;
  double shift_;
};
TORCH_MODULE(Timesteps);

// linear_2(act(linear_1(x))): the UNet's time_embedding.
class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim, Activation act);
  // x: [B, in_channels] -> [B, time_embed_dim]
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};

 private:
  Activation act_;
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace gligen::nets
