#include "core/io/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <utility>

namespace gligen::io {

namespace {

int read_int_file(const std::string& path, int fallback) {
  std::ifstream in(path);
  int v = fallback;
  if (in >> v) return v;
  return fallback;
}

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

// Big temporaries stay in the heap: 1 GiB mmap threshold (blocks above it are rare: sliced
// attention caps score matrices at 128 MiB) and no automatic trimming below 4 GiB of free top.
bool tune_malloc() {
  const char* mode = std::getenv("GLIGEN_MALLOC");
  if (mode && std::string(mode) == "default") return false;
  const bool a = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1;
  const bool b = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return a && b;
}

}  // namespace

int physical_cpu_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  std::set<std::pair<int, int>> cores;  // (package, core) of each allowed CPU
  int allowed = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    ++allowed;
    const std::string topo = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const int core = read_int_file(topo + "core_id", -1);
    const int package = read_int_file(topo + "physical_package_id", 0);
    cores.insert({package, core < 0 ? cpu : core});  // no topology: count the CPU itself
  }
  const int n = static_cast<int>(cores.size());
  return n > 0 ? n : std::max(allowed, 1);
}

CpuRuntime configure_cpu_runtime(int requested_threads) {
  static const bool malloc_tuned = tune_malloc();
  CpuRuntime rt;
  rt.physical_cores = physical_cpu_cores();
  rt.malloc_tuned = malloc_tuned;
  if (requested_threads > 0) {
    at::set_num_threads(requested_threads);
    rt.threads_from = "--threads";
  } else if (env_set("OMP_NUM_THREADS") || env_set("MKL_NUM_THREADS")) {
    rt.threads_from = env_set("OMP_NUM_THREADS") ? "OMP_NUM_THREADS" : "MKL_NUM_THREADS";
  } else {
    // Ranks of one job on one machine (our launcher and torchrun set LOCAL_WORLD_SIZE) share it.
    const char* local = std::getenv("LOCAL_WORLD_SIZE");
    const int ranks = local ? std::max(std::atoi(local), 1) : 1;
    at::set_num_threads(std::max(rt.physical_cores / ranks, 1));
    rt.threads_from = ranks > 1 ? "physical cores / LOCAL_WORLD_SIZE" : "physical cores";
  }
  rt.intra_op_threads = at::get_num_threads();
  // OpenBLAS built with pthreads keeps its own pool sized to all CPUs: give it the same count.
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set_blas(rt.intra_op_threads);
  return rt;
}

void trim_heap() { malloc_trim(0); }

double resident_memory_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

std::string describe(const CpuRuntime& rt) {
  return std::to_string(rt.intra_op_threads) + " intra-op threads (" + rt.threads_from + "; " +
         std::to_string(rt.physical_cores) + " physical cores), malloc " +
         (rt.malloc_tuned ? "tuned (large blocks reused)" : "as glibc sets it");
}

}  // namespace gligen::io
