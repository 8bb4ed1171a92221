// GPU telemetry of one rank for events.jsonl: utilisation and device memory from NVML (the driver's
// libnvidia-ml.so.1, loaded at run time when present), and LibTorch's own view of its memory
// (allocated, reserved, peak) from the CUDA caching allocator in a CUDA build of LibTorch.
// Fields a source cannot give are NaN. Torch-free header.
#pragma once
#include <memory>
#include <string>

namespace gligen::train {

struct GpuSample {
  double util_percent;       // NVML: share of the last sample period a kernel ran
  double device_used_mb;     // NVML: memory in use on the device by every process
  double allocated_mb;       // caching allocator: memory held by live tensors
  double reserved_mb;        // caching allocator: memory reserved from the driver
  double peak_allocated_mb;  // caching allocator: peak of allocated_mb since the start
  GpuSample();
};

class GpuTelemetry {
 public:
  // `cuda_index`: the CUDA device of this rank (its NVML device follows CUDA_VISIBLE_DEVICES).
  explicit GpuTelemetry(int cuda_index);
  ~GpuTelemetry();
  GpuSample sample() const;
  // Where the numbers come from: "nvml+allocator", "allocator" (no NVML), "nvml" or "none".
  std::string sources() const;

  struct Nvml;

 private:
  int cuda_index_;
  std::unique_ptr<Nvml> nvml_;
};

// The CUDA caching allocator's numbers for `cuda_index`; false when this LibTorch has no CUDA.
// Implemented by cuda/with_cuda_memory.cpp or cuda/without_cuda_memory.cpp (chosen by CMake).
bool cuda_allocator_stats(int cuda_index, GpuSample& into);

}  // namespace gligen::train
