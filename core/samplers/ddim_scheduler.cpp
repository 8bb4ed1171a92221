#include "core/samplers/ddim_scheduler.h"

#include <torch/torch.h>

#include <cmath>

#include "core/util/error.h"

namespace gligen::samplers {

DdimScheduler::DdimScheduler(const SchedulerConfig& c)
    : Scheduler(make_training_schedule(c, {/*allow_zero_snr_rescale=*/true, false, false})),
      prediction_type_(c.prediction_type.value_or("epsilon")),
      timestep_spacing_(c.timestep_spacing.value_or("leading")),
      steps_offset_(c.steps_offset.value_or(0)),
      clip_sample_(c.clip_sample.value_or(true)),
      clip_sample_range_(c.clip_sample_range.value_or(1.0)) {
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "sample", "v_prediction"}, "DDIMScheduler");
  require_one_of(c, "timestep_spacing", timestep_spacing_, {"leading", "trailing", "linspace"}, "DDIMScheduler");
  if (c.thresholding.value_or(false)) {
    throw Error(c.source +
                ": DDIMScheduler with \"thresholding\": true (dynamic thresholding, for pixel-space "
                "models) is not supported; set it to false or pick another scheduler");
  }
  final_alpha_cumprod_ = c.set_alpha_to_one.value_or(true) ? 1.0f : schedule_.alphas_cumprod_values[0];
}

void DdimScheduler::compute_timesteps(int64_t n, const torch::Device& device) {
  const int64_t train = schedule_.num_train_timesteps;
  const auto ts = spaced_timesteps(timestep_spacing_, train, n, steps_offset_);
  timesteps_ = torch::tensor(ts, torch::kLong).to(device);
}

StepOutput DdimScheduler::step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                                    const StepExtras& extras) {
  const auto t = static_cast<int64_t>(std::llround(timestep));
  // v0.27.2 steps back by num_train_timesteps // N whatever the spacing.
  const int64_t prev_t = t - schedule_.num_train_timesteps / num_inference_steps_;
  const auto& ac = schedule_.alphas_cumprod_values;
  TORCH_CHECK(t >= 0 && t < static_cast<int64_t>(ac.size()), "DDIM: timestep ", t, " out of range");
  // float32 scalars, as diffusers' 0-d tensors.
  const float alpha_t = ac[t];
  const float alpha_prev = prev_t >= 0 ? ac[prev_t] : final_alpha_cumprod_;
  const float beta_t = 1 - alpha_t;
  const double sqrt_alpha_t = std::sqrt(alpha_t), sqrt_beta_t = std::sqrt(beta_t);

  StepOutput out;
  torch::Tensor eps;
  if (prediction_type_ == "epsilon") {
    out.pred_original_sample = (sample - model_output * sqrt_beta_t) / sqrt_alpha_t;
    eps = model_output;
  } else if (prediction_type_ == "sample") {
    out.pred_original_sample = model_output;
    eps = (sample - out.pred_original_sample * sqrt_alpha_t) / sqrt_beta_t;
  } else {  // v_prediction
    out.pred_original_sample = sample * sqrt_alpha_t - model_output * sqrt_beta_t;
    eps = model_output * sqrt_alpha_t + sample * sqrt_beta_t;
  }
  if (clip_sample_) out.pred_original_sample = out.pred_original_sample.clamp(-clip_sample_range_, clip_sample_range_);

  // sigma_t of formula (16) of the DDIM paper, scaled by eta.
  const float beta_prev = 1 - alpha_prev;
  const float variance = beta_prev / beta_t * (1 - alpha_t / alpha_prev);
  const float std_dev_t = static_cast<float>(extras.eta) * std::sqrt(variance);
  const float direction_coeff = std::sqrt(1 - alpha_prev - std_dev_t * std_dev_t);
  out.prev_sample = out.pred_original_sample * double(std::sqrt(alpha_prev)) + eps * double(direction_coeff);
  if (extras.eta > 0) out.prev_sample = out.prev_sample + step_noise(extras, model_output) * double(std_dev_t);
  return out;
}

torch::Tensor DdimScheduler::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                       const torch::Tensor& timesteps) {
  return add_noise_alpha(schedule_.alphas_cumprod, original, noise, timesteps);
}

}  // namespace gligen::samplers
