// How the engine uses the CPU it runs on, set once at program start by every executable that runs
// networks (gligen-trainer, gligen-studio, the benchmarks):
// - intra-op threads: LibTorch's own default is what cpuinfo calls physical cores, which is 1 on
//   some virtual machines with 2 usable cores; without OMP_NUM_THREADS / MKL_NUM_THREADS in the
//   environment we use the physical cores this process may run on (affinity mask and sysfs
//   topology), divided among the ranks of a job on this machine (LOCAL_WORLD_SIZE). OpenBLAS gets the same count, so
//   BLAS and LibTorch's OpenMP pool never oversubscribe each other. LibTorch's inter-op pool stays at its default: the
//   engine never launches inter-op tasks, so its threads sleep.
// - glibc malloc: by default every block above 32 MiB is a fresh mmap, so each large temporary of a
//   step (attention scores, oneDNN's reordered convolution weights, VAE activations) costs page
//   faults and the kernel zeroing its pages, on every call. We raise the mmap and trim thresholds
//   so freed blocks are reused from the heap; `trim_heap()` hands the free heap back to the system
//   when a job is done (after each generated image).
// GLIGEN_MALLOC=default in the environment leaves malloc as glibc sets it.
#pragma once
#include <string>

namespace gligen::io {

struct CpuRuntime {
  int intra_op_threads = 0;
  std::string threads_from;  // "--threads", "OMP_NUM_THREADS", "physical cores", ...
  int physical_cores = 0;
  bool malloc_tuned = false;
};

// `requested_threads` > 0 (a --threads flag) wins over the environment and the core count.
// Safe to call more than once (the last call's thread count holds).
CpuRuntime configure_cpu_runtime(int requested_threads = 0);

// Physical cores among the CPUs this process may run on (at least 1).
int physical_cpu_cores();

// Returns free heap memory to the system (malloc_trim), for the end of a job or an image.
void trim_heap();

// This process's resident memory now (/proc/self/statm), in MiB; 0 when it cannot be read.
double resident_memory_mib();

// One line for system-info and logs: "2 intra-op threads (physical cores), malloc tuned".
std::string describe(const CpuRuntime& runtime);

}  // namespace gligen::io
