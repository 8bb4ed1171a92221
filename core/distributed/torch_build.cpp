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
  // CPU autocast (bfloat16) is part of LibTorch since 1.10; both supported lines have it.
  b.cpu_bf16_autocast = TORCH_VERSION_MAJOR >= 2 || (TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR >= 10);
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
