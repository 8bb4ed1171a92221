// Compiled when the LibTorch has no c10d NCCL (a CPU build such as Debian's 1.13).
#include <torch/version.h>

#include "core/distributed/nccl/nccl_backend.h"
#include "core/util/error.h"

namespace gligen::distributed {

bool nccl_compiled_in() { return false; }

void require_nccl(const LaunchEnvironment& env) {
  throw Error("--device cuda with " + std::to_string(env.world_size) +
              " ranks needs c10d's NCCL backend, but this build's LibTorch " TORCH_VERSION
              " has no NCCL (" GLIGEN_NCCL_ABSENT_REASON
              "). Build against a CUDA LibTorch "
              "('packaging/dev.sh build --torch pip'), or train on the CPU with --device cpu (Gloo).");
}

c10::intrusive_ptr<compat::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>&,
                                                      const LaunchEnvironment& env, int, std::chrono::milliseconds) {
  require_nccl(env);
  return {};
}

}  // namespace gligen::distributed
