#include "core/samplers/sigma_scheduler.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace gligen::samplers {

SigmaScheduler::SigmaScheduler(const SchedulerConfig& c, TrainingSchedule schedule, const std::string& class_name)
    : Scheduler(std::move(schedule)),
      class_name_(class_name),
      prediction_type_(c.prediction_type.value_or("epsilon")),
      timestep_spacing_(c.timestep_spacing.value_or("linspace")),
      steps_offset_(c.steps_offset.value_or(0)) {
  require_one_of(c, "timestep_spacing", timestep_spacing_, {"leading", "trailing", "linspace"}, class_name);
  train_sigmas_ = training_sigmas(schedule_.alphas_cumprod_values);
  for (float s : train_sigmas_) log_train_sigmas_.push_back(std::log(s));
  // Before set_timesteps: every training timestep, descending, then 0 (as the constructors do).
  std::vector<float> sig(train_sigmas_.rbegin(), train_sigmas_.rend());
  sig.push_back(0.0f);
  sigmas_ = sig;
  sigmas_tensor_ = torch::tensor(sigmas_, torch::kFloat32);
}

double SigmaScheduler::init_noise_sigma() const {
  const float max_sigma = *std::max_element(sigmas_.begin(), sigmas_.end());
  if (timestep_spacing_ == "linspace" || timestep_spacing_ == "trailing") return max_sigma;
  return std::sqrt(max_sigma * max_sigma + 1);
}

torch::Tensor SigmaScheduler::scale_input_impl(const torch::Tensor& sample, double timestep) {
  ensure_step_index(timestep);
  const float sigma = sigmas_.at(step_index_);
  return sample / double(std::sqrt(sigma * sigma + 1));
}

std::vector<float> SigmaScheduler::spaced_timesteps(int64_t n) const {
  const int64_t train = schedule_.num_train_timesteps;
  std::vector<float> ts;
  if (timestep_spacing_ == "linspace") {
    const auto v = np_linspace(0, double(train - 1), n);
    for (auto it = v.rbegin(); it != v.rend(); ++it) ts.push_back(static_cast<float>(*it));
  } else if (timestep_spacing_ == "leading") {
    const int64_t ratio = train / n;
    for (int64_t i = n - 1; i >= 0; --i)
      ts.push_back(static_cast<float>(i * ratio) + static_cast<float>(steps_offset_));
  } else {  // trailing
    for (double v : np_arange(double(train), 0, -double(train) / double(n))) {
      ts.push_back(static_cast<float>(np_round(v)) - 1.0f);
    }
  }
  return ts;
}

std::vector<double> SigmaScheduler::interpolated_sigmas(const std::vector<float>& timesteps) const {
  const std::vector<double> fp(train_sigmas_.begin(), train_sigmas_.end());
  std::vector<double> out;
  for (float t : timesteps) out.push_back(np_interp_index(t, fp));
  return out;
}

void SigmaScheduler::set_schedule(const std::vector<float>& timesteps, const std::vector<double>& sigmas,
                                  const torch::Device& device) {
  sigmas_.clear();
  for (double s : sigmas) sigmas_.push_back(static_cast<float>(s));
  sigmas_.push_back(0.0f);
  sigmas_tensor_ = torch::tensor(sigmas_, torch::kFloat32);
  timesteps_ = torch::tensor(timesteps, torch::kFloat32).to(device);
}

torch::Tensor SigmaScheduler::predict_original(const torch::Tensor& model_output, const torch::Tensor& sample,
                                               float sigma) const {
  if (prediction_type_ == "epsilon") return sample - model_output * double(sigma);
  if (prediction_type_ == "v_prediction") {
    const float c_out = -sigma / std::sqrt(sigma * sigma + 1);
    const float c_skip = sigma * sigma + 1;
    return model_output * double(c_out) + sample / double(c_skip);
  }
  return model_output;  // "sample" / "original_sample": the model predicts x0
}

torch::Tensor SigmaScheduler::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                        const torch::Tensor& timesteps) {
  const auto sig = sigmas_tensor_.to(original.device(), original.scalar_type());
  const auto ts = timesteps.to(torch::kCPU, torch::kFloat64).reshape({-1}).contiguous();
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < ts.numel(); ++i) {
    if (begin_index_ < 0) {
      const int64_t idx = index_for_timestep(ts.data_ptr<double>()[i]);
      TORCH_CHECK(idx >= 0, class_name_, ": add_noise timestep ", ts.data_ptr<double>()[i], " is not in the schedule");
      indices.push_back(idx);
    } else {
      indices.push_back(step_index_ >= 0 ? step_index_ : begin_index_);
    }
  }
  auto sigma = sig.index({torch::tensor(indices, torch::kLong).to(original.device())}).flatten();
  while (sigma.dim() < original.dim()) sigma = sigma.unsqueeze(-1);
  return original + noise * sigma;
}

}  // namespace gligen::samplers
