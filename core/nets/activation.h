// Activation functions by their diffusers name (diffusers.models.activations.get_activation).
#pragma once
#include <torch/torch.h>

#include <string>

namespace gligen::nets {

enum class Activation { SiLU, Mish, GELU, ReLU };

// "silu" and "swish" are the same function. Throws gligen::Error naming `where` for other names.
Activation activation_from_name(const std::string& name, const std::string& where);

// Applies `act`. In inference mode (grad mode off) the result may overwrite `x`, so pass a
// tensor that nothing else reads afterwards (a fresh layer output).
torch::Tensor apply_activation(Activation act, torch::Tensor x);

// Applies `act` without touching `x` (for tensors shared with other layers).
torch::Tensor activation_copy(Activation act, const torch::Tensor& x);

// SiLU that overwrites `x` when autograd is off: the common case after a norm layer.
torch::Tensor silu_fresh(torch::Tensor x);

}  // namespace gligen::nets
