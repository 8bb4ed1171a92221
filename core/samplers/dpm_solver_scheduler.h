// DPM-Solver++ multistep (Lu et al. 2022), diffusers' DPMSolverMultistepScheduler v0.27.2 with
// algorithm_type "dpmsolver++" (orders 1-3, midpoint or heun second-order update, optional
// Karras or uniform-lambda sigmas). The "dpm++2m" sampler is this class with solver_order 2.
// The SDE variants and the older "dpmsolver" (noise-prediction) algorithm are refused.
#pragma once
#include "core/samplers/scheduler.h"

namespace gligen::samplers {

class DpmSolverMultistepScheduler : public Scheduler {
 public:
  explicit DpmSolverMultistepScheduler(const SchedulerConfig& config);

  std::string name() const override { return "dpm++2m"; }
  std::string diffusers_class() const override { return "DPMSolverMultistepScheduler"; }
  torch::Tensor sigmas() const override { return sigmas_tensor_; }
  // alpha_t * original + sigma_t * noise at the timesteps' sigmas.
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) override;

  int64_t solver_order() const { return solver_order_; }

 protected:
  void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) override;
  StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                       const StepExtras& extras) override;

 private:
  torch::Tensor convert_model_output(const torch::Tensor& model_output, const torch::Tensor& sample) const;
  torch::Tensor first_order_update(const torch::Tensor& x0, const torch::Tensor& sample) const;
  torch::Tensor second_order_update(const torch::Tensor& sample) const;
  torch::Tensor third_order_update(const torch::Tensor& sample) const;

  int64_t solver_order_;
  std::string prediction_type_;
  std::string solver_type_;
  bool lower_order_final_;
  bool euler_at_final_;
  bool use_karras_sigmas_;
  bool use_lu_lambdas_;
  std::string final_sigmas_type_;
  double lambda_min_clipped_;
  std::string variance_type_;
  std::string timestep_spacing_;
  int64_t steps_offset_;
  std::optional<double> sigma_min_, sigma_max_;

  std::vector<float> train_sigmas_, log_train_sigmas_;
  std::vector<float> lambda_t_;  // log(alpha_t) - log(sigma_t) per training timestep, float32
  std::vector<float> sigmas_;    // [N + 1]
  torch::Tensor sigmas_tensor_;

  // Per-run state.
  std::vector<torch::Tensor> model_outputs_;  // the last solver_order x0 estimates, newest last
  int64_t lower_order_nums_ = 0;
};

}  // namespace gligen::samplers
