// DDIM (Song et al. 2021), diffusers' DDIMScheduler v0.27.2. eta = 0 (the default) is the
// deterministic sampler; eta > 0 adds fresh noise each step, drawn from the step's generator.
#pragma once
#include "core/samplers/scheduler.h"

namespace gligen::samplers {

class DdimScheduler : public Scheduler {
 public:
  explicit DdimScheduler(const SchedulerConfig& config);

  std::string name() const override { return "ddim"; }
  std::string diffusers_class() const override { return "DDIMScheduler"; }
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) override;

 protected:
  void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) override;
  StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                       const StepExtras& extras) override;

 private:
  float final_alpha_cumprod_;
  std::string prediction_type_;
  std::string timestep_spacing_;
  int64_t steps_offset_;
  bool clip_sample_;
  double clip_sample_range_;
};

}  // namespace gligen::samplers
