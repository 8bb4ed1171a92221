#include "core/nets/activation.h"

#include "core/util/error.h"

namespace gligen::nets {

Activation activation_from_name(const std::string& name, const std::string& where) {
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "mish") return Activation::Mish;
  if (name == "gelu") return Activation::GELU;
  if (name == "relu") return Activation::ReLU;
  throw Error(where + ": unsupported activation \"" + name + "\" (supported: silu, swish, mish, gelu, relu)");
}

torch::Tensor silu_fresh(torch::Tensor x) {
  // In-place SiLU would discard the input its backward needs, so only without autograd.
  if (torch::GradMode::is_enabled()) return torch::silu(x);
  return torch::silu_(x);
}

torch::Tensor activation_copy(Activation act, const torch::Tensor& x) {
  switch (act) {
    case Activation::SiLU: return torch::silu(x);
    case Activation::Mish: return torch::mish(x);
    case Activation::GELU: return torch::gelu(x);
    case Activation::ReLU: return torch::relu(x);
  }
  return x;
}

torch::Tensor apply_activation(Activation act, torch::Tensor x) {
  const bool in_place = !torch::GradMode::is_enabled();
  switch (act) {
    case Activation::SiLU: return in_place ? torch::silu_(x) : torch::silu(x);
    case Activation::Mish: return in_place ? torch::mish_(x) : torch::mish(x);
    case Activation::GELU: return torch::gelu(x);
    case Activation::ReLU: return in_place ? torch::relu_(x) : torch::relu(x);
  }
  return x;
}

}  // namespace gligen::nets
