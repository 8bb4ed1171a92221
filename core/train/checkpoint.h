// Training checkpoints that survive a crash at any instant. A checkpoint is a folder
// checkpoints/checkpoint-<step, 6 digits>/ holding
//   trainable.safetensors   the trainable UNet parameters by name
//   optimizer.safetensors   the AdamW state
//   manifest.json           step, data position, lr schedule, RNG scheme, loss scale, and the
//                           byte size of every file above; written LAST
// It is written into a hidden temporary folder, every file and the folder are fsynced, the
// manifest goes in last, then the folder is renamed into place and the parent fsynced. Only then
// are older checkpoints pruned. A folder without a valid manifest (or whose files do not have the
// sizes the manifest lists) is never used.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/io/state_dict.h"

namespace gligen::train {

struct CheckpointState {
  int64_t global_step = 0;
  int64_t epoch = 0;
  int64_t micro_batch = 0;  // next micro-batch of `epoch` to read
  nlohmann::json extra;     // lr schedule, RNG scheme, loss scale, world size, ... (free form)
  io::StateDict trainable;
  io::StateDict optimizer;
};

std::string checkpoint_name(int64_t step);

// Writes `state` as checkpoints_dir/checkpoint-<step> (replacing one of the same step).
// Returns the folder. Throws gligen::Error / filesystem errors when the disk refuses.
std::string write_checkpoint(const std::string& checkpoints_dir, const CheckpointState& state);

// Deletes all but the newest `keep` valid checkpoints, and leftover temporary folders.
// Returns the folders removed.
std::vector<std::string> prune_checkpoints(const std::string& checkpoints_dir, int keep);

// Empty when `folder` holds a complete checkpoint; else why not.
std::string checkpoint_problem(const std::string& folder);

// The newest complete checkpoint in `checkpoints_dir`, or nullopt.
std::optional<std::string> latest_checkpoint(const std::string& checkpoints_dir);

// The checkpoint `resume` names: "" (none), "latest" (the newest complete one in
// `checkpoints_dir`; nullopt, after telling `log`, when there is none yet) or a folder.
std::optional<std::string> resolve_resume_checkpoint(const std::string& resume, const std::string& checkpoints_dir,
                                                     const std::function<void(const std::string&)>& log);

// Reads a complete checkpoint. Throws gligen::Error saying why a folder is not usable.
CheckpointState read_checkpoint(const std::string& folder);

}  // namespace gligen::train
