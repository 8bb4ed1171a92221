// Compiled only when the LibTorch has c10d NCCL; its header is guarded by USE_C10D_NCCL.
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "core/distributed/nccl/nccl_backend.h"

namespace gligen::distributed {

bool nccl_compiled_in() { return true; }
void require_nccl(const LaunchEnvironment&) {}

c10::intrusive_ptr<compat::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                      const LaunchEnvironment& env, int device_index,
                                                      std::chrono::milliseconds timeout) {
  // NCCL binds a communicator to the current device: make it this rank's before the first collective.
  const c10::Device device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device_index));
  c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).setDevice(device);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
}

}  // namespace gligen::distributed
