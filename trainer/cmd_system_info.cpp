// `gligen-trainer system-info`: what this build of the engine can use on this machine.
#include <torch/torch.h>

#include <iostream>
#include <thread>

#include "core/util/version.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_system_info(const std::vector<std::string>& argv) {
  cli::Parser parser("gligen-trainer system-info", "Print the engine version, LibTorch build and devices.",
                     "gligen-trainer system-info");
  if (!parser.parse(argv)) return 0;
  std::cout << "gligen-trainer " << version() << "\n"
            << "libtorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH
            << "\n"
            << "cpu threads (intra-op) " << at::get_num_threads() << " of " << std::thread::hardware_concurrency()
            << " hardware threads\n"
            << "cuda " << (torch::cuda::is_available() ? "available" : "not available");
  if (torch::cuda::is_available()) std::cout << ", " << torch::cuda::device_count() << " device(s)";
  std::cout << "\n";
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("system-info", "print version, LibTorch build, CPU threads and CUDA devices",
                       run_system_info, 90);

}  // namespace gligen::trainer
