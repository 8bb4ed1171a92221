// Linear multistep sampler (k-diffusion's LMS, order 4), diffusers' LMSDiscreteScheduler v0.27.2.
// The multistep coefficients are integrals of Lagrange basis polynomials over [sigma_i, sigma_{i+1}];
// diffusers evaluates them with scipy.integrate.quad, here they are integrated exactly (the
// integrands are polynomials of degree <= 3, so 4-point Gauss-Legendre quadrature is exact).
#pragma once
#include "core/samplers/sigma_scheduler.h"

namespace gligen::samplers {

class LmsScheduler : public SigmaScheduler {
 public:
  explicit LmsScheduler(const SchedulerConfig& config);

  std::string name() const override { return "lms"; }
  std::string diffusers_class() const override { return "LMSDiscreteScheduler"; }

  // The integrated coefficient of the derivative `current_order` steps back, for a multistep of
  // `order` at step index `step_index` (diffusers' get_lms_coefficient).
  double lms_coefficient(int64_t order, int64_t step_index, int64_t current_order) const;

  int64_t order = 4;  // the step argument of diffusers' step

 protected:
  void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) override;
  StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                       const StepExtras& extras) override;

 private:
  bool use_karras_sigmas_;
  std::vector<torch::Tensor> derivatives_;  // newest last, at most `order`
};

}  // namespace gligen::samplers
