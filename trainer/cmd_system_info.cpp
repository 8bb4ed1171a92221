// `gligen-trainer system-info`: what this build of the engine can use on this machine.
#include <torch/torch.h>

#include <iostream>
#include <thread>

#include "core/io/cpu_runtime.h"
#include "core/distributed/launch_environment.h"
#include "core/distributed/torch_build.h"
#include "core/util/version.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_system_info(const std::vector<std::string>& argv) {
  cli::Parser parser("gligen-trainer system-info", "Print the engine version, LibTorch build and devices.",
                     "gligen-trainer system-info");
  if (!parser.parse(argv)) return 0;
  const auto tb = distributed::torch_build();
  std::cout << "gligen-trainer " << version() << "\n"
            << "libtorch " << tb.version << " (" << tb.source << ")\n"
            << "cuda build " << (tb.cuda ? tb.cuda_version : std::string("none (CPU-only LibTorch)")) << "\n"
            << "c10d backends";
  for (const auto& b : tb.backends) std::cout << " " << b;
  if (!tb.nccl) std::cout << " (no nccl: " << tb.nccl_absent_reason << ")";
  std::cout << "\n"
            << "mixed precision fp16, bf16 on CUDA" << (tb.cpu_bf16_autocast ? "; bf16 autocast on the CPU" : "")
            << "\n"
            << "cpu threads (intra-op) " << at::get_num_threads() << " of " << std::thread::hardware_concurrency()
            << " hardware threads\n"
            << "cpu runtime " << io::describe(io::configure_cpu_runtime()) << "\n";
  try {
    const auto env = distributed::launch_environment_from_env();
    std::cout << "launcher " << env.launcher;
    if (env.from_environment) {
      std::cout << ": rank " << env.rank << " of " << env.world_size << ", local rank " << env.local_rank << " of "
                << env.local_world_size << ", master " << env.master_addr << ":" << env.master_port;
    }
    std::cout << "\n";
  } catch (const std::exception& e) {
    std::cout << "launcher environment invalid: " << e.what() << "\n";
  }
  // The studio's training dialog reads this line's device count.
  std::cout << "cuda " << (tb.cuda_devices > 0 ? "available" : "not available");
  if (tb.cuda_devices > 0) std::cout << ", " << tb.cuda_devices << " device(s)";
  std::cout << "\n";
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("system-info", "print version, LibTorch build, CPU threads and CUDA devices", run_system_info,
                       90);

}  // namespace gligen::trainer
