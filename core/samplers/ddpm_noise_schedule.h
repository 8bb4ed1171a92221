// The training-side noise schedule of diffusers' DDPMScheduler v0.27.2, as the GLIGEN training
// recipe uses it: noisy_latents = add_noise(latents, noise, timesteps), and the v-prediction target
// (get_velocity). Sampling with DDPM is not offered; the inference samplers are in scheduler.h.
#pragma once
#include <torch/types.h>

#include "core/samplers/schedule_math.h"
#include "core/samplers/scheduler_config.h"

namespace gligen::samplers {

class DdpmNoiseSchedule {
 public:
  explicit DdpmNoiseSchedule(const SchedulerConfig& config);

  // DDPMScheduler.set_timesteps(N): the inference timesteps [N] int64 on `device`.
  void set_timesteps(int64_t num_inference_steps, const torch::Device& device = torch::kCPU);
  const torch::Tensor& timesteps() const { return timesteps_; }

  // sqrt(alphas_cumprod[t]) * original + sqrt(1 - alphas_cumprod[t]) * noise; timesteps [B] int64.
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) const;
  // sqrt(alphas_cumprod[t]) * noise - sqrt(1 - alphas_cumprod[t]) * sample.
  torch::Tensor velocity(const torch::Tensor& sample, const torch::Tensor& noise, const torch::Tensor& timesteps) const;

  // What the model is trained to predict ("epsilon", "v_prediction" or "sample").
  const std::string& prediction_type() const { return prediction_type_; }
  int64_t num_train_timesteps() const { return schedule_.num_train_timesteps; }
  const torch::Tensor& betas() const { return schedule_.betas; }
  const torch::Tensor& alphas_cumprod() const { return schedule_.alphas_cumprod; }

 private:
  TrainingSchedule schedule_;
  std::string prediction_type_;
  std::string timestep_spacing_;
  int64_t steps_offset_;
  torch::Tensor timesteps_;
};

}  // namespace gligen::samplers
