// A state dict: parameter/buffer name -> tensor, as in PyTorch checkpoints.
#pragma once
#include <torch/torch.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace gligen::io {

// Ordered by name; the order of a file is not significant for loading.
using StateDict = std::map<std::string, torch::Tensor>;

struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the weights
  std::vector<std::string> unexpected;  // in the weights, not in the module
  std::vector<std::string> mismatched;  // "name: checkpoint [a, b] vs model [c, d]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string describe(const std::string& what) const;
};

// How load_strict puts the weights into the module.
enum class WeightSharing {
  // Copy into the module's own tensors (converting dtype). Always safe; what training uses.
  Copy,
  // Where a weight already has the module tensor's dtype and device and is contiguous, the module
  // tensor is re-pointed at the weight's memory (Tensor::set_data) instead of copied, so a
  // memory-mapped fp32 checkpoint is not held twice in RAM. Other weights are copied.
  // Files are mapped copy-on-write (core/util/mapped_file.h): an in-place update of a shared
  // parameter (training) copies only the pages it touches, and never changes the file.
  ShareWhenPossible,
};

// Puts `weights` into the module's parameters and buffers (names from named_parameters() /
// named_buffers()), converting dtype to the module's. Strict: any missing, unexpected or
// mis-shaped key makes it throw one gligen::Error listing all of them, before anything is
// loaded. Keys in `ignore` (e.g. "text_model.embeddings.position_ids") are dropped silently.
// Returns the number of tensors shared rather than copied (always 0 with WeightSharing::Copy).
std::size_t load_strict(torch::nn::Module& module, const StateDict& weights, const std::string& what,
                        const std::set<std::string>& ignore = {}, WeightSharing sharing = WeightSharing::Copy);

// The comparison load_strict makes, without copying anything.
LoadReport check_state_dict(const torch::nn::Module& module, const StateDict& weights,
                            const std::set<std::string>& ignore = {});

}  // namespace gligen::io
