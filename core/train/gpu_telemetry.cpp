#include "core/train/gpu_telemetry.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace gligen::train {

GpuSample::GpuSample()
    : util_percent(NAN), device_used_mb(NAN), allocated_mb(NAN), reserved_mb(NAN), peak_allocated_mb(NAN) {}

// The few NVML entry points used, declared here so that no NVML header is needed to build.
struct GpuTelemetry::Nvml {
  using Device = void*;
  struct Utilization {
    unsigned int gpu, memory;
  };
  struct Memory {
    unsigned long long total, free, used;
  };
  void* lib = nullptr;
  Device device = nullptr;
  int (*shutdown)() = nullptr;
  int (*utilization)(Device, Utilization*) = nullptr;
  int (*memory)(Device, Memory*) = nullptr;

  ~Nvml() {
    if (shutdown) shutdown();
    if (lib) ::dlclose(lib);
  }

  // NVML numbers every GPU of the machine; CUDA only those in CUDA_VISIBLE_DEVICES, by indices or UUIDs.
  static std::unique_ptr<Nvml> open(int cuda_index) {
    auto n = std::make_unique<Nvml>();
    n->lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) return nullptr;
    auto sym = [&](const char* name) { return ::dlsym(n->lib, name); };
    auto init = reinterpret_cast<int (*)()>(sym("nvmlInit_v2"));
    auto by_index = reinterpret_cast<int (*)(unsigned int, Device*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
    auto by_uuid = reinterpret_cast<int (*)(const char*, Device*)>(sym("nvmlDeviceGetHandleByUUID"));
    n->utilization = reinterpret_cast<int (*)(Device, Utilization*)>(sym("nvmlDeviceGetUtilizationRates"));
    n->memory = reinterpret_cast<int (*)(Device, Memory*)>(sym("nvmlDeviceGetMemoryInfo"));
    auto shutdown = reinterpret_cast<int (*)()>(sym("nvmlShutdown"));
    if (!init || !by_index || !n->utilization || !n->memory || !shutdown || init() != 0) return nullptr;
    n->shutdown = shutdown;
    std::string id = std::to_string(cuda_index);
    if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES"); visible && *visible) {
      std::vector<std::string> ids;
      std::stringstream ss(visible);
      for (std::string item; std::getline(ss, item, ',');) ids.push_back(item);
      if (cuda_index >= static_cast<int>(ids.size())) return nullptr;
      id = ids[static_cast<size_t>(cuda_index)];
    }
    int rc = -1;
    if (id.rfind("GPU-", 0) == 0 || id.rfind("MIG-", 0) == 0) {
      if (by_uuid) rc = by_uuid(id.c_str(), &n->device);
    } else {
      try {
        rc = by_index(static_cast<unsigned int>(std::stoul(id)), &n->device);
      } catch (const std::exception&) {
        rc = -1;
      }
    }
    if (rc != 0) return nullptr;
    return n;
  }
};

GpuTelemetry::GpuTelemetry(int cuda_index) : cuda_index_(cuda_index), nvml_(Nvml::open(cuda_index)) {}
GpuTelemetry::~GpuTelemetry() = default;

GpuSample GpuTelemetry::sample() const {
  GpuSample s;
  if (nvml_) {
    Nvml::Utilization u{};
    if (nvml_->utilization(nvml_->device, &u) == 0) s.util_percent = u.gpu;
    Nvml::Memory m{};
    if (nvml_->memory(nvml_->device, &m) == 0) s.device_used_mb = static_cast<double>(m.used) / (1024.0 * 1024.0);
  }
  cuda_allocator_stats(cuda_index_, s);
  return s;
}

std::string GpuTelemetry::sources() const {
  GpuSample probe;
  const bool allocator = cuda_allocator_stats(cuda_index_, probe);
  if (nvml_) return allocator ? "nvml+allocator" : "nvml";
  return allocator ? "allocator" : "none";
}

}  // namespace gligen::train
