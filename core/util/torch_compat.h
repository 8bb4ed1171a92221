// The one place where LibTorch 1.13 (Debian's) and LibTorch 2.x differ, for the sources that need
// it (it includes c10d and autocast headers: keep it out of public headers). Everything else in the
// project compiles unchanged against both lines.
//
// c10d. 1.13: ProcessGroupGloo and ProcessGroupNCCL derive from c10d::ProcessGroup.
//       2.x:  they derive from c10d::Backend; c10d::ProcessGroup became a dispatcher in front of
//       backends. Both bases offer the collectives used here (allreduce, broadcast, barrier) with
//       the same signatures and c10d::Work handles, so code holds a backend as `compat::Backend`.
// Autocast. 1.13: one switch and one dtype per device kind (set_enabled / set_cpu_enabled, ...).
//       2.x:  set_autocast_enabled(device_type, ...) and set_autocast_dtype(device_type, ...); the
//       1.13 names remain only as deprecated wrappers.
// Fused attention. 2.x: at::scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
//       1.13: none; fused_attention() returns an undefined tensor and callers compute it themselves.
#pragma once
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace gligen::compat {

#if TORCH_VERSION_MAJOR >= 2
using Backend = c10d::Backend;

inline void set_autocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype) {
  at::autocast::set_autocast_dtype(device_type, dtype);
  at::autocast::set_autocast_enabled(device_type, enabled);
}

// softmax(q kᵀ · scale) v for q [B, H, N, d], k and v [B, H, M, d].
inline at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
}
#else
using Backend = c10d::ProcessGroup;

inline void set_autocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype) {
  if (device_type == c10::DeviceType::CUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
}

inline at::Tensor fused_attention(const at::Tensor&, const at::Tensor&, const at::Tensor&, double) { return {}; }
#endif

}  // namespace gligen::compat
