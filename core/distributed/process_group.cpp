#include "core/distributed/process_group.h"

// ProcessGroupGloo.hpp is guarded by USE_C10D_GLOO (the LibTorch build defines it for its own
// sources only). Debian's and PyTorch's LibTorch export the Gloo process group.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <cstdlib>
#include <optional>

#include "core/util/error.h"

namespace gligen::distributed {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int fallback, int lo, int hi) {
  auto v = env(name);
  if (!v) return fallback;
  try {
    size_t used = 0;
    const long x = std::stol(*v, &used);
    if (used != v->size() || x < lo || x > hi) throw std::out_of_range(*v);
    return static_cast<int>(x);
  } catch (const std::exception&) {
    throw Error(std::string("environment variable ") + name + "='" + *v + "' must be an integer in [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
}

}  // namespace

LaunchEnvironment launch_environment_from_env() {
  LaunchEnvironment e;
  e.from_environment = env("WORLD_SIZE").has_value();
  e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = env_int("RANK", 0, 0, 1 << 20);
  e.local_rank = env_int("LOCAL_RANK", e.rank, 0, 1 << 20);
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size, 1, 1 << 20);
  e.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  if (e.rank >= e.world_size) {
    throw Error("RANK=" + std::to_string(e.rank) + " must be smaller than WORLD_SIZE=" + std::to_string(e.world_size));
  }
  if (e.local_rank >= e.local_world_size) {
    throw Error("LOCAL_RANK=" + std::to_string(e.local_rank) + " must be smaller than LOCAL_WORLD_SIZE=" +
                std::to_string(e.local_world_size));
  }
  if (e.world_size > 1 && !env("RANK")) throw Error("WORLD_SIZE is " + std::to_string(e.world_size) + " but RANK is not set");
  return e;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> b = {"gloo"};
#ifdef USE_C10D_NCCL
  b.push_back("nccl");
#endif
  return b;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::string backend;
  int rank = 0, world = 1;
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::join(const LaunchEnvironment& e, const torch::Device& device,
                                                 std::chrono::seconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->rank = e.rank;
  impl->world = e.world_size;
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(e.master_port);
    opts.isServer = e.rank == 0;
    opts.numWorkers = static_cast<std::size_t>(e.world_size);
    opts.waitWorkers = true;
    opts.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    auto tcp = c10::make_intrusive<c10d::TCPStore>(e.master_addr, opts);
    impl->store = c10::make_intrusive<c10d::PrefixStore>("gligen", tcp);
#ifdef USE_C10D_NCCL
    if (device.is_cuda()) {
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, e.rank, e.world_size, o);
      impl->backend = "nccl";
    }
#else
    if (device.is_cuda()) {
      throw Error("this build of LibTorch has no NCCL; multi-GPU training needs a CUDA LibTorch with c10d NCCL");
    }
#endif
    if (!impl->group) {
      auto o = c10d::ProcessGroupGloo::Options::create(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
      // Loopback for a single machine; otherwise the interface that resolves this host's name.
      const bool local = e.master_addr == "127.0.0.1" || e.master_addr == "localhost";
      o->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                 : c10d::ProcessGroupGloo::createDefaultDevice());
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, e.rank, e.world_size, o);
      impl->backend = "gloo";
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Error("rank " + std::to_string(e.rank) + " could not join the process group at " + e.master_addr + ":" +
                std::to_string(e.master_port) + " (world size " + std::to_string(e.world_size) + "): " + ex.what());
  }
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

int ProcessGroup::rank() const { return impl_->rank; }
int ProcessGroup::world_size() const { return impl_->world; }
const std::string& ProcessGroup::backend() const { return impl_->backend; }

void ProcessGroup::all_reduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  // Buckets of consecutive tensors of one dtype and device, each flattened into one buffer.
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    if (!t.defined()) continue;
    const int64_t nb = t.numel() * static_cast<int64_t>(t.element_size());
    if (buckets.empty() || bytes + nb > bucket_bytes || buckets.back().front().scalar_type() != t.scalar_type() ||
        buckets.back().front().device() != t.device()) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += nb;
  }
  std::vector<torch::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& b : buckets) {
    std::vector<torch::Tensor> parts;
    for (auto& t : b) parts.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat = {torch::cat(parts)};
    works.push_back(impl_->group->allreduce(flat));  // asynchronous; buckets overlap
    flats.push_back(flat[0]);
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    works[i]->wait();  // the sum is complete only now
    int64_t offset = 0;
    for (auto& t : buckets[i]) {
      const int64_t n = t.numel();
      t.copy_(flats[i].narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
}

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (!p.grad().defined()) {
      // Every rank must reduce the same tensors: a rank without a gradient contributes zeros.
      p.mutable_grad() = torch::zeros_like(p);
    }
    grads.push_back(p.grad());
  }
  all_reduce_sum(grads, bucket_bytes);  // waits for every bucket
  torch::NoGradGuard no_grad;
  for (auto& g : grads) g.div_(impl_->world);
}

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    std::vector<torch::Tensor> v = {t.detach()};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->group->broadcast(v, o)->wait();
  }
}

void ProcessGroup::barrier() { impl_->group->barrier()->wait(); }

}  // namespace gligen::distributed
