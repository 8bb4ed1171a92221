// What the LibTorch this build links offers: its version and origin, CUDA, NCCL, and what is
// visible now. `gligen-trainer system-info` and the studio's About box print it. Torch-free header.
#pragma once
#include <string>
#include <vector>

namespace gligen::distributed {

struct TorchBuild {
  std::string version;                // LibTorch's, e.g. "2.15.0"
  std::string source;                 // "debian package", "pip wheel" or "custom (<folder>)": chosen at configure time
  bool cuda = false;                  // LibTorch was built with CUDA
  std::string cuda_version;           // the CUDA toolkit it was configured with ("" without CUDA)
  bool nccl = false;                  // c10d NCCL is compiled into this build
  std::string nccl_absent_reason;     // why not, when !nccl
  std::vector<std::string> backends;  // c10d backends: "gloo", "nccl"
  int cuda_devices = 0;               // CUDA devices visible to this process now
  bool cpu_bf16_autocast = false;     // bfloat16 CPU autocast covers what training needs (LibTorch 2.x)

  // One line: "libtorch 2.15.0 (pip wheel; CUDA 13.0; c10d: gloo, nccl)".
  std::string summary() const;
};

TorchBuild torch_build();

}  // namespace gligen::distributed
