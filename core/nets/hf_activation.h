// Activation functions by their transformers name (transformers.activations.ACT2FN), for the
// Hugging Face models ported here (Swin, BERT, Grounding DINO). The formulas are the ones
// transformers evaluates, so results match its float32 outputs to rounding.
#pragma once
#include <torch/torch.h>

#include <string>

namespace gligen::nets {

enum class HfActivation {
  GELU,       // "gelu": exact (erf) GELU, torch.nn.functional.gelu
  GELUTanh,   // "gelu_pytorch_tanh": torch gelu(approximate="tanh")
  GELUNew,    // "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) evaluated as transformers does
  QuickGELU,  // "quick_gelu": x * sigmoid(1.702 x)
  ReLU,       // "relu"
  SiLU,       // "silu", "swish"
};

// Throws gligen::Error naming `where` (a config file and key) for names not listed above.
HfActivation hf_activation_from_name(const std::string& name, const std::string& where);

// Applies the activation (out of place).
torch::Tensor apply_hf_activation(HfActivation act, const torch::Tensor& x);

}  // namespace gligen::nets
