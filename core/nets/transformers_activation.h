// Activation functions by their transformers name (ACT2FN), for the models ported from
// transformers (BLIP-2's ViT, Q-Former and T5). "gelu" is the exact erf GELU; "gelu_new" and
// "gelu_pytorch_tanh" are the tanh approximation.
#pragma once
#include <torch/torch.h>

#include <string>

#include "core/util/error.h"

namespace gligen::nets {

inline torch::Tensor transformers_activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  throw Error("activation \"" + name + "\" is not implemented");  // configs are validated first
}

}  // namespace gligen::nets
