// Compiled when LibTorch was built with CUDA (see core/CMakeLists.txt).
#include <c10/cuda/CUDACachingAllocator.h>

#include "core/train/gpu_telemetry.h"

namespace gligen::train {

bool cuda_allocator_stats(int cuda_index, GpuSample& into) {
  // Index 0 of each statistic is the aggregate over the allocator's pools (StatType::AGGREGATE).
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(cuda_index));
  constexpr double mb = 1024.0 * 1024.0;
  into.allocated_mb = static_cast<double>(stats.allocated_bytes[0].current) / mb;
  into.peak_allocated_mb = static_cast<double>(stats.allocated_bytes[0].peak) / mb;
  into.reserved_mb = static_cast<double>(stats.reserved_bytes[0].current) / mb;
  return true;
}

}  // namespace gligen::train
