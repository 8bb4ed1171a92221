// Common ground of the k-diffusion style schedulers (Euler, Euler ancestral, LMS): they work on
// x = x0 + sigma * eps with sigma = sqrt((1 - alphas_cumprod) / alphas_cumprod), start from noise
// of std init_noise_sigma(), and feed the UNet x / sqrt(sigma^2 + 1).
#pragma once
#include "core/samplers/scheduler.h"

namespace gligen::samplers {

class SigmaScheduler : public Scheduler {
 public:
  torch::Tensor sigmas() const override { return sigmas_tensor_; }
  // max sigma for linspace/trailing spacing, sqrt(max^2 + 1) for leading (diffusers v0.27.2).
  double init_noise_sigma() const override;
  // original + sigma(t) * noise.
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) override;

 protected:
  SigmaScheduler(const SchedulerConfig& config, TrainingSchedule schedule, const std::string& class_name);

  torch::Tensor scale_input_impl(const torch::Tensor& sample, double timestep) override;

  // The spaced timesteps (descending, float32 values) for N steps, before any Karras remapping.
  std::vector<float> spaced_timesteps(int64_t num_inference_steps) const;
  // np.interp of the training sigmas at `timesteps` (float64, as NumPy returns them).
  std::vector<double> interpolated_sigmas(const std::vector<float>& timesteps) const;
  // Stores the schedule: timesteps [N] (float32 tensor on `device`) and sigmas, to which the final
  // sigma 0 is appended, rounded to float32.
  void set_schedule(const std::vector<float>& timesteps, const std::vector<double>& sigmas,
                    const torch::Device& device);

  // x0 estimate from the model output at `sigma` (epsilon, v_prediction or sample).
  torch::Tensor predict_original(const torch::Tensor& model_output, const torch::Tensor& sample, float sigma) const;

  std::string class_name_;
  std::string prediction_type_;
  std::string timestep_spacing_;
  int64_t steps_offset_;
  std::vector<float> train_sigmas_;      // per training timestep, float32
  std::vector<float> log_train_sigmas_;  // float32 logs
  std::vector<float> sigmas_;            // [N + 1], float32
  torch::Tensor sigmas_tensor_;
};

}  // namespace gligen::samplers
