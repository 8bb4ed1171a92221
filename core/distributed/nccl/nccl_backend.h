// The NCCL backend of a process group. CMake compiles with_nccl.cpp when the LibTorch it builds
// against has c10d NCCL (see cmake/GligenTorch.cmake), else without_nccl.cpp, so no source carries
// an #ifdef for it.
#pragma once
#include <chrono>
#include <string>

#include "core/distributed/process_group.h"  // nccl_compiled_in, require_nccl
#include "core/util/torch_compat.h"

namespace gligen::distributed {

// Creates the NCCL backend of rank `env.rank` on CUDA device `device_index` over `store`; the
// rank's current CUDA device becomes `device_index`. Throws gligen::Error in a build without NCCL.
c10::intrusive_ptr<compat::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                      const LaunchEnvironment& env, int device_index,
                                                      std::chrono::milliseconds timeout);

}  // namespace gligen::distributed
