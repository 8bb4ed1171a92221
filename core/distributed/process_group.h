// Data-parallel communication over c10d: a process group (Gloo on the CPU, NCCL on CUDA when
// LibTorch was built with it) joined through a TCPStore rendezvous, configured by the
// torchrun-compatible environment: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT. So `torchrun --no-python`, Slurm / mpirun wrappers that export these variables, and
// `gligen-trainer launch` all start the same way. A world of one process needs no group at all.
#pragma once
#include <torch/types.h>

#include "core/distributed/launch_environment.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace gligen::distributed {

// Names of the backends compiled in ("gloo", and "nccl" with a CUDA build of c10d).
std::vector<std::string> available_backends();
// True when c10d NCCL is compiled into this build (CMake finds it in the LibTorch it builds against).
bool nccl_compiled_in();
// Throws gligen::Error saying why this build has no NCCL and what to do; returns when it has NCCL.
void require_nccl(const LaunchEnvironment& env);

class ProcessGroup {
 public:
  // Joins the group of `env` (blocks until all ranks have joined or `timeout` passes). NCCL when
  // `device` is CUDA and NCCL is compiled in, else Gloo. Throws gligen::Error on failure.
  static std::unique_ptr<ProcessGroup> join(const LaunchEnvironment& env, const torch::Device& device,
                                            std::chrono::seconds timeout = std::chrono::seconds(300));
  ~ProcessGroup();

  int rank() const;
  int world_size() const;
  const std::string& backend() const;

  // Sums `tensors` over all ranks in place, flattening them into buckets of at most
  // `bucket_bytes`; every reduction is waited for before it returns.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes = 25 << 20);
  // The gradients of `params` become their mean over the ranks: summed in buckets, and divided by
  // the world size only after each reduction has completed.
  void average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes = 25 << 20);
  // Copies rank `root`'s values of `tensors` to every rank.
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  void barrier();

  struct Impl;

 private:
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gligen::distributed
