// Linear and embedding layers whose parameters are allocated but not initialised, for models
// that are always loaded from a checkpoint (BLIP-2: up to 12 B parameters). torch::nn::Linear
// fills its weight with random values on construction, which for a large model costs minutes and
// touches every page before load_strict re-points the parameters at the memory-mapped file;
// torch::empty leaves large allocations untouched (not resident). Parameter names are those of
// torch::nn::Linear / Embedding ("weight", "bias"), so checkpoint keys are unchanged.
#pragma once
#include <torch/torch.h>

namespace gligen::nets {

class BareLinearImpl : public torch::nn::Module {
 public:
  BareLinearImpl(int64_t in_features, int64_t out_features, bool with_bias = true) {
    weight = register_parameter("weight", torch::empty({out_features, in_features}));
    if (with_bias) bias = register_parameter("bias", torch::empty({out_features}));
  }
  // x: [..., in] -> [..., out]
  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(x, weight, bias); }

  torch::Tensor weight, bias;  // bias undefined without bias
};
TORCH_MODULE(BareLinear);

class BareEmbeddingImpl : public torch::nn::Module {
 public:
  BareEmbeddingImpl(int64_t count, int64_t dim) { weight = register_parameter("weight", torch::empty({count, dim})); }
  // ids: [...] int64 -> [..., dim]
  torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }

  torch::Tensor weight;
};
TORCH_MODULE(BareEmbedding);

}  // namespace gligen::nets
