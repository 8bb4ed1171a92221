#include "core/data/prefetch_loader.h"

#include <torch/torch.h>

#include <chrono>

#include "core/util/error.h"

namespace gligen::data {

std::vector<std::size_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::size_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = i;
  SeededSampleRandom rng(seed, epoch, 0, /*stream=*/0x5eed);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.choose(i)]);
  return p;
}

std::vector<std::vector<std::size_t>> shard_epoch(std::size_t n, std::uint64_t seed, std::uint64_t epoch,
                                                  int batch_size, int rank, int world_size) {
  if (n == 0) throw Error("the dataset is empty: nothing to train on");
  const auto perm = epoch_permutation(n, seed, epoch);
  const std::size_t global = static_cast<std::size_t>(batch_size) * world_size;
  const std::size_t count = (n + global - 1) / global;
  std::vector<std::vector<std::size_t>> out(count);
  for (std::size_t k = 0; k < count; ++k) {
    for (int i = 0; i < batch_size; ++i) {
      const std::size_t pos = k * global + static_cast<std::size_t>(rank) * batch_size + i;
      out[k].push_back(perm[pos % n]);
    }
  }
  return out;
}

PrefetchLoader::PrefetchLoader(std::shared_ptr<const GroundingDataset> dataset, std::uint64_t seed, int workers,
                               int depth, LogFn log)
    : dataset_(std::move(dataset)),
      seed_(seed),
      workers_(std::max(0, workers)),
      depth_(std::max(1, depth)),
      log_(std::move(log)) {}

PrefetchLoader::~PrefetchLoader() { stop_workers(); }

void PrefetchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  stopping_ = false;
}

std::int64_t PrefetchLoader::skipped_images() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  return static_cast<std::int64_t>(bad_.size());
}

GroundingSample PrefetchLoader::load_sample(std::uint64_t epoch, std::size_t index) {
  const std::size_t n = dataset_->size();
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (index + step) % n;
    {
      std::lock_guard<std::mutex> lock(bad_mutex_);
      if (bad_.count(i)) continue;
    }
    SeededSampleRandom random(seed_, epoch, i);
    if (auto s = dataset_->get(i, random)) return std::move(*s);
    std::size_t count;
    {
      std::lock_guard<std::mutex> lock(bad_mutex_);
      if (!bad_.insert(i).second) continue;
      count = bad_.size();
    }
    if (log_) {
      log_("skipping record " + std::to_string(i) + ": image '" + dataset_->image_path(i) +
           "' is missing or cannot be decoded (" + std::to_string(count) + " skipped so far)");
    }
  }
  throw Error("no record of the dataset has a readable image (checked " + std::to_string(n) + "); check --image-path");
}

GroundingBatch PrefetchLoader::build(std::size_t k) {
  torch::NoGradGuard no_grad;
  std::vector<GroundingSample> samples;
  for (std::size_t index : batches_[k]) samples.push_back(load_sample(epoch_, index));
  return collate(samples);
}

void PrefetchLoader::worker_loop() {
  at::set_num_threads(1);  // decoding threads do small tensor work; keep them off the intra-op pool
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || (next_job_ < batches_.size() && next_job_ < next_out_ + depth_); });
    if (stopping_) return;
    const std::size_t k = next_job_++;
    lock.unlock();
    GroundingBatch b;
    std::exception_ptr err;
    try {
      b = build(k);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    if (err) {
      if (!error_) error_ = err;
    } else {
      ready_.emplace(k, std::move(b));
    }
    cv_.notify_all();
  }
}

void PrefetchLoader::start_epoch(std::uint64_t epoch, std::vector<std::vector<std::size_t>> batches,
                                 std::size_t first) {
  stop_workers();
  epoch_ = epoch;
  batches_ = std::move(batches);
  next_job_ = next_out_ = std::min(first, batches_.size());
  ready_.clear();
  error_ = nullptr;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { worker_loop(); });
}

std::optional<GroundingBatch> PrefetchLoader::next() {
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<GroundingBatch> out;
  if (workers_ == 0) {
    if (next_out_ < batches_.size()) out = build(next_out_++);
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_out_ < batches_.size()) {
      cv_.wait(lock, [&] { return error_ || ready_.count(next_out_); });
      if (error_) std::rethrow_exception(error_);
      auto it = ready_.find(next_out_);
      out = std::move(it->second);
      ready_.erase(it);
      ++next_out_;
    }
    lock.unlock();
    cv_.notify_all();
  }
  last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  total_wait_ += last_wait_;
  return out;
}

}  // namespace gligen::data
