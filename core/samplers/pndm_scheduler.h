// PNDM (Liu et al. 2022, pseudo numerical methods), diffusers' PNDMScheduler v0.27.2: Stable
// Diffusion 1.x's default. With skip_prk_steps (SD's setting) it runs the linear multistep (PLMS)
// part only: the schedule has N + 1 timesteps, its second timestep repeated, and the first two
// steps form one second-order (Heun-like) step. Without it, 12 Runge-Kutta (PRK) steps start
// the run, as in the paper.
#pragma once
#include "core/samplers/scheduler.h"

namespace gligen::samplers {

class PndmScheduler : public Scheduler {
 public:
  explicit PndmScheduler(const SchedulerConfig& config);

  std::string name() const override { return "pndm"; }
  std::string diffusers_class() const override { return "PNDMScheduler"; }
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) override;

 protected:
  void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) override;
  StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                       const StepExtras& extras) override;

 private:
  torch::Tensor step_prk(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample);
  torch::Tensor step_plms(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample);
  // x_{t_prev} from x_t and the (combined) noise estimate: formula (9) of the PNDM paper.
  torch::Tensor prev_sample(const torch::Tensor& sample, int64_t timestep, int64_t prev_timestep,
                            torch::Tensor model_output) const;

  bool skip_prk_steps_;
  float final_alpha_cumprod_;
  std::string prediction_type_;
  std::string timestep_spacing_;
  int64_t steps_offset_;

  // Per-run state, reset by set_timesteps.
  std::vector<int64_t> prk_timesteps_;
  int64_t counter_ = 0;
  std::vector<torch::Tensor> ets_;  // past model outputs, newest last
  torch::Tensor cur_sample_;
  torch::Tensor cur_model_output_;  // PRK's running weighted sum; undefined = 0
};

}  // namespace gligen::samplers
