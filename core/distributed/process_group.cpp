#include "core/distributed/process_group.h"

// ProcessGroupGloo.hpp is guarded by USE_C10D_GLOO (the LibTorch build defines it for its own
// sources only). Debian's and PyTorch's LibTorch export the Gloo process group.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "core/util/torch_compat.h"
#include "core/distributed/nccl/nccl_backend.h"
#include "core/util/error.h"

namespace gligen::distributed {

std::vector<std::string> available_backends() {
  std::vector<std::string> b = {"gloo"};
  if (nccl_compiled_in()) b.push_back("nccl");
  return b;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<compat::Backend> group;
  std::string backend;
  torch::Device device = torch::kCPU;  // where NCCL's collectives run; CPU tensors travel there and back
  int rank = 0, world = 1;
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::join(const LaunchEnvironment& e, const torch::Device& device,
                                                 std::chrono::seconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->rank = e.rank;
  impl->world = e.world_size;
  if (device.is_cuda()) require_nccl(e);  // before any rank waits at the store
  try {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(e.master_port);
    // Under torchrun the agent hosts the store; otherwise rank 0 does and waits for the others.
    opts.isServer = e.rank == 0 && !e.agent_store;
    opts.numWorkers = static_cast<std::size_t>(e.world_size);
    opts.waitWorkers = true;  // every rank counts itself in and waits for all (LibTorch 1.13 counts only waiting clients)
    opts.timeout = ms;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(e.master_addr, opts);
    // A restarted torchrun worker group meets the same agent store: its keys go under a new prefix.
    impl->store = c10::make_intrusive<c10d::PrefixStore>("gligen/attempt_" + std::to_string(e.restart_count), tcp);
    if (device.is_cuda()) {
      const int index = device.has_index() ? device.index() : e.local_rank;
      impl->group = make_nccl_backend(impl->store, e, index, ms);
      impl->backend = "nccl";
      impl->device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    if (!impl->group) {
      auto o = c10d::ProcessGroupGloo::Options::create(ms);
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
    // torchrun's agent hosts the store with its own torch's protocol: 2.x's store refuses 1.x clients.
    const std::string hint = e.agent_store ? " (the torchrun agent hosts this store: its torch must be of this build's "
                                             "LibTorch line, " TORCH_VERSION ")"
                                           : "";
    throw Error("rank " + std::to_string(e.rank) + " could not join the process group at " + e.master_addr + ":" +
                std::to_string(e.master_port) + " (world size " + std::to_string(e.world_size) + ")" + hint + ": " +
                ex.what());
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
    // NCCL reduces device memory only: a CPU bucket (a logged loss, a stop flag) travels there and back.
    std::vector<torch::Tensor> flat = {torch::cat(parts).to(impl_->device)};
    works.push_back(impl_->group->allreduce(flat));  // asynchronous; buckets overlap
    flats.push_back(flat[0]);
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    works[i]->wait();  // the sum is complete only now
    int64_t offset = 0;
    for (auto& t : buckets[i]) {
      const int64_t n = t.numel();
      t.copy_(flats[i].narrow(0, offset, n).view(t.sizes()));  // copy_ crosses devices
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
    std::vector<torch::Tensor> v = {t.detach().to(impl_->device)};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->group->broadcast(v, o)->wait();
    if (v[0].data_ptr() != t.data_ptr()) t.detach().copy_(v[0]);  // it travelled to the NCCL device
  }
}

void ProcessGroup::barrier() { impl_->group->barrier()->wait(); }

}  // namespace gligen::distributed
