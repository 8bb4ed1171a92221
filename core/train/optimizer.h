// The optimizer side of the GLIGEN recipe, with PyTorch 1.13's numerics:
// torch.optim.AdamW (single-tensor path, the default there) and torch.nn.utils.clip_grad_norm_.
// Written out rather than taken from torch::optim so that the update is the same sequence of ATen
// operations as Python's and the state is plain tensors, easy to checkpoint and to verify.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/io/state_dict.h"

namespace gligen::train {

struct AdamWOptions {
  double lr = 5e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double weight_decay = 1e-2;
  double eps = 1e-8;
};

class AdamW {
 public:
  // `params` must have requires_grad; their order defines the state layout.
  AdamW(std::vector<torch::Tensor> params, AdamWOptions options);

  // One update with learning rate `lr` (the schedule's value); parameters without a gradient are
  // skipped, as PyTorch does.
  void step(double lr);
  // Sets every gradient to zero (set_to_none = false, the seed's default) or drops it.
  void zero_grad(bool set_to_none = false);

  const AdamWOptions& options() const { return options_; }
  std::vector<torch::Tensor>& params() { return params_; }

  // exp_avg.<i>, exp_avg_sq.<i>, step.<i> (float32 scalar, as PyTorch keeps it) for parameter i.
  io::StateDict state_dict() const;
  // Throws gligen::Error when the state does not fit the parameters.
  void load_state_dict(const io::StateDict& state);

 private:
  std::vector<torch::Tensor> params_;
  AdamWOptions options_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  std::vector<double> steps_;
};

// torch.nn.utils.clip_grad_norm_(params, max_norm) (norm type 2): returns the total norm before
// clipping and multiplies every gradient by min(1, max_norm / (total + 1e-6)).
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace gligen::train
