// Batches for training: the epoch's shuffled order, this rank's disjoint shard of it, and worker
// threads that decode ahead of the model into a bounded queue.
//
// Order: every rank computes the same permutation of the dataset from (seed, epoch). A step's
// global batch is world_size * batch_size consecutive positions of it; rank r takes its slice.
// The last global batch of an epoch wraps around to the start of the permutation so that every
// batch is full (as accelerate's even_batches). So 2 ranks with batch B see exactly the samples
// that 1 rank with batch 2B sees, and a resumed run continues at the same position.
//
// Unreadable images (missing or corrupt files) are replaced by the next readable record in index
// order, each reported once through the log callback and counted; training never stops for one.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "core/data/grounding_dataset.h"

namespace gligen::data {

// The permutation of [0, n) for `epoch` (Fisher-Yates from a seeded counter-based generator).
std::vector<std::size_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch);

// Micro-batches of this rank for one epoch: batches[k] are the record indices of micro-batch k.
std::vector<std::vector<std::size_t>> shard_epoch(std::size_t n, std::uint64_t seed, std::uint64_t epoch,
                                                  int batch_size, int rank, int world_size);

class PrefetchLoader {
 public:
  using LogFn = std::function<void(const std::string&)>;
  // `workers` = 0 decodes on the calling thread. `depth`: batches decoded ahead (>= 1).
  PrefetchLoader(std::shared_ptr<const GroundingDataset> dataset, std::uint64_t seed, int workers, int depth,
                 LogFn log = {});
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  // Starts producing micro-batch `first` onwards of `batches` (of epoch `epoch`).
  void start_epoch(std::uint64_t epoch, std::vector<std::vector<std::size_t>> batches, std::size_t first = 0);
  // The next micro-batch, or nullopt at the end of the epoch. Rethrows a worker's error.
  std::optional<GroundingBatch> next();

  double last_wait_seconds() const { return last_wait_; }
  double total_wait_seconds() const { return total_wait_; }
  std::int64_t skipped_images() const;

  // One sample with the replacement rule above (thread-safe).
  GroundingSample load_sample(std::uint64_t epoch, std::size_t index);

 private:
  GroundingBatch build(std::size_t k);
  void worker_loop();
  void stop_workers();

  std::shared_ptr<const GroundingDataset> dataset_;
  std::uint64_t seed_;
  int workers_;
  int depth_;
  LogFn log_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t epoch_ = 0;
  std::vector<std::vector<std::size_t>> batches_;
  std::size_t next_job_ = 0, next_out_ = 0;
  bool stopping_ = false;
  std::map<std::size_t, GroundingBatch> ready_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;

  mutable std::mutex bad_mutex_;
  std::set<std::size_t> bad_;
  double last_wait_ = 0, total_wait_ = 0;
};

}  // namespace gligen::data
