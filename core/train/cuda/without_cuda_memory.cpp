// Compiled when LibTorch has no CUDA: there is no caching allocator to ask.
#include "core/train/gpu_telemetry.h"

namespace gligen::train {

bool cuda_allocator_stats(int, GpuSample&) { return false; }

}  // namespace gligen::train
