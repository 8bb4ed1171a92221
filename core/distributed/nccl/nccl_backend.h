// The NCCL backend of a process group. CMake compiles with_nccl.cpp when the LibTorch it builds
// against has c10d NCCL (see cmake/GligenTorch.cmake), else without_nccl.cpp, so no source carries
// an #ifdef for it.
#pragma once
#include <chrono>
#include <string>

#include "core/util/torch_compat.h"
#include "core/distributed/launch_environment.h"

namespace gligen::distributed {

// True when c10d NCCL is compiled into this build.
bool nccl_compiled_in();

// Throws gligen::Error saying what to do when NCCL is not compiled in; returns otherwise.
void require_nccl(const LaunchEnvironment& env);

// Creates the NCCL backend of rank `env.rank` on CUDA device `device_index` over `store`; the
// rank's current CUDA device becomes `device_index`. Throws gligen::Error in a build without NCCL.
c10::intrusive_ptr<compat::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                      const LaunchEnvironment& env, int device_index,
                                                      std::chrono::milliseconds timeout);

}  // namespace gligen::distributed
