// Euler and Euler-ancestral samplers (Karras et al. 2022, Algorithm 2), diffusers'
// EulerDiscreteScheduler and EulerAncestralDiscreteScheduler v0.27.2.
#pragma once
#include <limits>

#include "core/samplers/sigma_scheduler.h"

namespace gligen::samplers {

class EulerScheduler : public SigmaScheduler {
 public:
  explicit EulerScheduler(const SchedulerConfig& config);

  std::string name() const override { return "euler"; }
  std::string diffusers_class() const override { return "EulerDiscreteScheduler"; }

  // Karras "churn" (step arguments of diffusers' step; 0 churn is plain Euler, the default).
  double s_churn = 0.0;
  double s_tmin = 0.0;
  double s_tmax = std::numeric_limits<double>::infinity();
  double s_noise = 1.0;

 protected:
  void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) override;
  // diffusers draws step noise every step (used only with churn), so a generator advances the same.
  StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                       const StepExtras& extras) override;

 private:
  std::string interpolation_type_;
  std::string timestep_type_;
  bool use_karras_sigmas_;
  std::optional<double> sigma_min_, sigma_max_;
};

class EulerAncestralScheduler : public SigmaScheduler {
 public:
  explicit EulerAncestralScheduler(const SchedulerConfig& config);

  std::string name() const override { return "euler-a"; }
  std::string diffusers_class() const override { return "EulerAncestralDiscreteScheduler"; }

 protected:
  void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) override;
  // An Euler step down to sigma_down, then fresh noise of std sigma_up (StepExtras' noise).
  StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                       const StepExtras& extras) override;
};

}  // namespace gligen::samplers
