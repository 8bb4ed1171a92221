#include "core/samplers/euler_schedulers.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace gligen::samplers {

// ---- Euler ----------------------------------------------------------------------------------

EulerScheduler::EulerScheduler(const SchedulerConfig& c)
    : SigmaScheduler(c, make_training_schedule(c, {true, true, false}), "EulerDiscreteScheduler"),
      interpolation_type_(c.interpolation_type.value_or("linear")),
      timestep_type_(c.timestep_type.value_or("discrete")),
      use_karras_sigmas_(c.use_karras_sigmas.value_or(false)),
      sigma_min_(c.sigma_min),
      sigma_max_(c.sigma_max) {
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "v_prediction", "sample", "original_sample"},
                 class_name_);
  require_one_of(c, "interpolation_type", interpolation_type_, {"linear", "log_linear"}, class_name_);
  require_one_of(c, "timestep_type", timestep_type_, {"discrete", "continuous"}, class_name_);
}

void EulerScheduler::compute_timesteps(int64_t n, const torch::Device& device) {
  std::vector<float> ts = spaced_timesteps(n);
  std::vector<double> sig;
  if (interpolation_type_ == "linear") {
    sig = interpolated_sigmas(ts);
  } else {
    // log_linear: N + 1 sigmas evenly spaced in log sigma (a float32 torch.linspace), as diffusers.
    const auto lin =
        torch::linspace(double(log_train_sigmas_.back()), double(log_train_sigmas_.front()), n + 1, torch::kFloat32)
            .exp();
    for (int64_t i = 0; i <= n; ++i) sig.push_back(lin[i].item<float>());
  }
  if (use_karras_sigmas_) {
    const double lo = sigma_min_ ? *sigma_min_ : sig.back();
    const double hi = sigma_max_ ? *sigma_max_ : sig.front();
    sig = karras_sigmas(lo, hi, n);
    ts.clear();
    for (double s : sig) ts.push_back(static_cast<float>(sigma_to_t(s, log_train_sigmas_)));
  }
  set_schedule(ts, sig, device);
  if (timestep_type_ == "continuous" && prediction_type_ == "v_prediction") {
    // Continuous-time models (e.g. the SD x4 upscaler family) take 0.25 * log(sigma) as timestep.
    std::vector<float> c;
    for (size_t i = 0; i + 1 < sigmas_.size(); ++i) c.push_back(0.25f * log_f32(sigmas_[i]));
    timesteps_ = torch::tensor(c, torch::kFloat32).to(device);
  }
}

StepOutput EulerScheduler::step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& input,
                                     const StepExtras& extras) {
  ensure_step_index(timestep);
  TORCH_CHECK(step_index_ + 1 < static_cast<int64_t>(sigmas_.size()), "Euler: stepped past the last timestep");
  torch::Tensor sample = input.to(torch::kFloat32);
  const float sigma = sigmas_[step_index_];
  double gamma = 0.0;
  if (s_tmin <= sigma && sigma <= s_tmax) {
    gamma = std::min(s_churn / double(sigmas_.size() - 1), std::sqrt(2.0) - 1);
  }
  const torch::Tensor noise = step_noise(extras, model_output);
  const float sigma_hat = sigma * static_cast<float>(gamma + 1);
  if (gamma > 0) {
    const auto eps = noise * s_noise;
    sample = sample + eps * double(std::sqrt(sigma_hat * sigma_hat - sigma * sigma));
  }
  StepOutput out;
  out.pred_original_sample = prediction_type_ == "epsilon" ? sample - model_output * double(sigma_hat)
                                                           : predict_original(model_output, sample, sigma);
  const auto derivative = (sample - out.pred_original_sample) / double(sigma_hat);
  const float dt = sigmas_[step_index_ + 1] - sigma_hat;
  out.prev_sample = (sample + derivative * double(dt)).to(model_output.scalar_type());
  ++step_index_;
  return out;
}

// ---- Euler ancestral ------------------------------------------------------------------------

EulerAncestralScheduler::EulerAncestralScheduler(const SchedulerConfig& c)
    : SigmaScheduler(c, make_training_schedule(c, {true, true, false}), "EulerAncestralDiscreteScheduler") {
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "v_prediction"}, class_name_);
}

void EulerAncestralScheduler::compute_timesteps(int64_t n, const torch::Device& device) {
  const std::vector<float> ts = spaced_timesteps(n);
  set_schedule(ts, interpolated_sigmas(ts), device);
}

StepOutput EulerAncestralScheduler::step_impl(const torch::Tensor& model_output, double timestep,
                                              const torch::Tensor& input, const StepExtras& extras) {
  ensure_step_index(timestep);
  TORCH_CHECK(step_index_ + 1 < static_cast<int64_t>(sigmas_.size()),
              "Euler ancestral: stepped past the last timestep");
  const float sigma = sigmas_[step_index_];
  const torch::Tensor sample = input.to(torch::kFloat32);
  StepOutput out;
  out.pred_original_sample = predict_original(model_output, sample, sigma);
  // Split the step to sigma_to into a deterministic part (to sigma_down) and fresh noise (sigma_up).
  const float sigma_from = sigma, sigma_to = sigmas_[step_index_ + 1];
  const float sigma_up =
      std::sqrt(sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to) / (sigma_from * sigma_from));
  const float sigma_down = std::sqrt(sigma_to * sigma_to - sigma_up * sigma_up);
  const auto derivative = (sample - out.pred_original_sample) / double(sigma);
  const float dt = sigma_down - sigma;
  auto prev = sample + derivative * double(dt);
  prev = prev + step_noise(extras, model_output) * double(sigma_up);
  out.prev_sample = prev.to(model_output.scalar_type());
  ++step_index_;
  return out;
}

}  // namespace gligen::samplers
