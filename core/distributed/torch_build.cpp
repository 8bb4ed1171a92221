#include "core/distributed/torch_build.h"

#include <torch/torch.h>
#include <torch/version.h>

#include "core/distributed/nccl/nccl_backend.h"
#include "core/distributed/process_group.h"

#ifndef GLIGEN_TORCH_SOURCE
#error "GLIGEN_TORCH_SOURCE, GLIGEN_TORCH_CUDA_VERSION and GLIGEN_NCCL_ABSENT_REASON come from cmake/GligenTorch.cmake"
#endif

namespace gligen::distributed {

TorchBuild torch_build() {
  TorchBuild b;
  b.version = TORCH_VERSION;
  b.source = GLIGEN_TORCH_SOURCE;
  b.cuda_version = GLIGEN_TORCH_CUDA_VERSION;
  b.cuda = !b.cuda_version.empty();
  b.nccl = nccl_compiled_in();
  if (!b.nccl) b.nccl_absent_reason = GLIGEN_NCCL_ABSENT_REASON;
  b.backends = available_backends();
  b.cuda_devices = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  // LibTorch 1.13's CPU autocast leaves ops the UNet needs without bfloat16 kernels (training fails
  // with "expected scalar type BFloat16 but found Float"); 2.x covers them.
  b.cpu_bf16_autocast = TORCH_VERSION_MAJOR >= 2;
  return b;
}

std::string TorchBuild::summary() const {
  std::string s = "libtorch " + version + " (" + source + "; ";
  s += cuda ? "CUDA " + cuda_version : std::string("CPU only");
  s += "; c10d:";
  for (size_t i = 0; i < backends.size(); ++i) s += (i ? ", " : " ") + backends[i];
  return s + ")";
}

}  // namespace gligen::distributed
