// torch.finfo(dtype).min as a double: the additive mask value transformers fills masked
// attention positions with.
#pragma once
#include <torch/types.h>

#include <limits>

namespace gligen::nets {

inline double finfo_min(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat16: return -65504.0;
    case torch::kBFloat16: return -3.3895313892515355e38;
    case torch::kFloat64: return std::numeric_limits<double>::lowest();
    default: return double(std::numeric_limits<float>::lowest());
  }
}

}  // namespace gligen::nets
