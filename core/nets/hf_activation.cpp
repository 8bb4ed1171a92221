#include "core/nets/hf_activation.h"

#include <cmath>

#include "core/util/error.h"

namespace gligen::nets {

HfActivation hf_activation_from_name(const std::string& name, const std::string& where) {
  if (name == "gelu") return HfActivation::GELU;
  if (name == "gelu_pytorch_tanh") return HfActivation::GELUTanh;
  if (name == "gelu_new") return HfActivation::GELUNew;
  if (name == "quick_gelu") return HfActivation::QuickGELU;
  if (name == "relu") return HfActivation::ReLU;
  if (name == "silu" || name == "swish") return HfActivation::SiLU;
  throw Error(where + ": activation \"" + name +
              "\" is not implemented (supported: gelu, gelu_pytorch_tanh, gelu_new, quick_gelu, relu, silu, swish)");
}

torch::Tensor apply_hf_activation(HfActivation act, const torch::Tensor& x) {
  switch (act) {
    case HfActivation::GELU: return torch::gelu(x);
    case HfActivation::GELUTanh: return torch::gelu(x, "tanh");
    case HfActivation::GELUNew:
      return 0.5 * x * (1.0 + torch::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * torch::pow(x, 3.0))));
    case HfActivation::QuickGELU: return x * torch::sigmoid(1.702 * x);
    case HfActivation::ReLU: return torch::relu(x);
    case HfActivation::SiLU: return torch::silu(x);
  }
  return x;
}

}  // namespace gligen::nets
