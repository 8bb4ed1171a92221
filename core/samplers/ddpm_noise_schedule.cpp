#include "core/samplers/ddpm_noise_schedule.h"

#include <torch/torch.h>

#include "core/util/error.h"

namespace gligen::samplers {

DdpmNoiseSchedule::DdpmNoiseSchedule(const SchedulerConfig& c)
    : schedule_(make_training_schedule(c, {/*allow_zero_snr_rescale=*/true, false, /*allow_sigmoid=*/true})),
      prediction_type_(c.prediction_type.value_or("epsilon")),
      timestep_spacing_(c.timestep_spacing.value_or("leading")),
      steps_offset_(c.steps_offset.value_or(0)) {
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "sample", "v_prediction"}, "DDPMScheduler");
  require_one_of(c, "timestep_spacing", timestep_spacing_, {"leading", "trailing", "linspace"}, "DDPMScheduler");
}

void DdpmNoiseSchedule::set_timesteps(int64_t n, const torch::Device& device) {
  const int64_t train = schedule_.num_train_timesteps;
  if (n < 1 || n > train) {
    throw Error("the number of inference steps must be between 1 and num_train_timesteps (" + std::to_string(train) +
                "), got " + std::to_string(n));
  }
  const auto ts = spaced_timesteps(timestep_spacing_, train, n, steps_offset_);
  timesteps_ = torch::tensor(ts, torch::kLong).to(device);
}

torch::Tensor DdpmNoiseSchedule::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                           const torch::Tensor& timesteps) const {
  return add_noise_alpha(schedule_.alphas_cumprod, original, noise, timesteps);
}

torch::Tensor DdpmNoiseSchedule::velocity(const torch::Tensor& sample, const torch::Tensor& noise,
                                          const torch::Tensor& timesteps) const {
  return velocity_alpha(schedule_.alphas_cumprod, sample, noise, timesteps);
}

}  // namespace gligen::samplers
