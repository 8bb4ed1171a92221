// Attention for CPU float32 inference in one pass per block of query rows: the scores of a block
// stay in the core's cache (scaled-query x key product, softmax, product with the values) instead
// of going through memory as [B, H, N, M] matrices three times. For LibTorch 1.13, which has no
// fused CPU attention (2.x's at::scaled_dot_product_attention is used there); AVX-512 machines only.
#pragma once
#include <ATen/core/Tensor.h>

namespace gligen::nets {

// Whether this build and processor run cpu_fused_attention: an AVX-512 processor, and the build
// against LibTorch 1.13 (compiled with OpenMP, LibTorch's own thread runtime there).
bool cpu_fused_attention_available();

// Whether cpu_fused_attention takes these inputs: available, float32 CPU tensors q [B, H, N, d],
// k and v [B, H, M, d] (any strides with a unit last stride), d <= 256, no autograd recording.
bool cpu_fused_attention_applies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// softmax(q kᵀ · scale) v as [B, H, N, d]. The values are those of the explicit computation up to
// float32 rounding (the queries are scaled first, as attention_core does when M > d; each row's
// probabilities are normalised at the end, on the d outputs instead of the M probabilities). The
// result is a view of a [B, N, H, d] tensor, so `transpose(1, 2).reshape({B, N, H * d})` costs no
// copy.
at::Tensor cpu_fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale);

}  // namespace gligen::nets
