#include "core/samplers/pndm_scheduler.h"

#include <torch/torch.h>

#include <cmath>

#include "core/util/error.h"

namespace gligen::samplers {

PndmScheduler::PndmScheduler(const SchedulerConfig& c)
    : Scheduler(make_training_schedule(c, {})),
      skip_prk_steps_(c.skip_prk_steps.value_or(false)),
      prediction_type_(c.prediction_type.value_or("epsilon")),
      timestep_spacing_(c.timestep_spacing.value_or("leading")),
      steps_offset_(c.steps_offset.value_or(0)) {
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "v_prediction"}, "PNDMScheduler");
  require_one_of(c, "timestep_spacing", timestep_spacing_, {"leading", "trailing", "linspace"}, "PNDMScheduler");
  final_alpha_cumprod_ = c.set_alpha_to_one.value_or(false) ? 1.0f : schedule_.alphas_cumprod_values[0];
}

void PndmScheduler::compute_timesteps(int64_t n, const torch::Device& device) {
  const int64_t train = schedule_.num_train_timesteps;
  // Ascending base timesteps.
  std::vector<int64_t> base;
  if (timestep_spacing_ == "linspace") {
    for (double v : np_linspace(0, double(train - 1), n)) base.push_back(static_cast<int64_t>(np_round(v)));
  } else if (timestep_spacing_ == "leading") {
    const int64_t ratio = train / n;
    for (int64_t i = 0; i < n; ++i) base.push_back(i * ratio + steps_offset_);
  } else {  // trailing
    const auto desc = np_arange(double(train), 0, -double(train) / double(n));
    for (auto it = desc.rbegin(); it != desc.rend(); ++it) base.push_back(static_cast<int64_t>(np_round(*it)) - 1);
  }
  const int64_t m = static_cast<int64_t>(base.size());
  std::vector<int64_t> plms;
  prk_timesteps_.clear();
  if (skip_prk_steps_) {
    // [t0 .. t_{m-2}, t_{m-2}, t_{m-1}] reversed: the second timestep is repeated.
    std::vector<int64_t> asc(base.begin(), base.end() - 1);
    if (m >= 2) asc.push_back(base[m - 2]);
    asc.push_back(base[m - 1]);
    plms.assign(asc.rbegin(), asc.rend());
  } else {
    // Four Runge-Kutta steps over the last pndm_order (4) base timesteps, each with half steps:
    // the pairs (t, t + half) repeated, trimmed, reversed.
    const int64_t order = 4;
    if (m < order) {
      throw Error("PNDM with Runge-Kutta steps (skip_prk_steps false) needs at least 4 inference steps, got " +
                  std::to_string(n));
    }
    const int64_t half = train / n / 2;
    std::vector<int64_t> pairs;
    for (int64_t i = m - order; i < m; ++i) {
      pairs.push_back(base[i]);
      pairs.push_back(base[i] + half);
    }
    std::vector<int64_t> doubled;
    for (size_t i = 0; i + 1 < pairs.size(); ++i) {
      doubled.push_back(pairs[i]);
      doubled.push_back(pairs[i]);
    }
    if (doubled.size() >= 2) {
      std::vector<int64_t> trimmed(doubled.begin() + 1, doubled.end() - 1);
      prk_timesteps_.assign(trimmed.rbegin(), trimmed.rend());
    }
    for (int64_t i = m - 4; i >= 0; --i) plms.push_back(base[i]);
  }
  std::vector<int64_t> all = prk_timesteps_;
  all.insert(all.end(), plms.begin(), plms.end());
  timesteps_ = torch::tensor(all, torch::kLong).to(device);
  counter_ = 0;
  ets_.clear();
  cur_sample_ = torch::Tensor();
  cur_model_output_ = torch::Tensor();
}

StepOutput PndmScheduler::step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                                    const StepExtras&) {
  const auto t = static_cast<int64_t>(std::llround(timestep));
  StepOutput out;
  if (counter_ < static_cast<int64_t>(prk_timesteps_.size()) && !skip_prk_steps_) {
    out.prev_sample = step_prk(model_output, t, sample);
  } else {
    out.prev_sample = step_plms(model_output, t, sample);
  }
  return out;
}

torch::Tensor PndmScheduler::step_prk(const torch::Tensor& model_output, int64_t timestep,
                                      const torch::Tensor& sample) {
  const int64_t diff_to_prev = (counter_ % 2) ? 0 : schedule_.num_train_timesteps / num_inference_steps_ / 2;
  const int64_t prev_timestep = timestep - diff_to_prev;
  timestep = prk_timesteps_[counter_ / 4 * 4];
  torch::Tensor eps = model_output;
  auto accumulate = [&](double w) {
    auto term = model_output * w;
    cur_model_output_ = cur_model_output_.defined() ? cur_model_output_ + term : term;
  };
  switch (counter_ % 4) {
    case 0:
      accumulate(1.0 / 6);
      ets_.push_back(model_output);
      cur_sample_ = sample;
      break;
    case 1:
    case 2: accumulate(1.0 / 3); break;
    default: {
      auto last = model_output * (1.0 / 6);
      eps = cur_model_output_.defined() ? cur_model_output_ + last : last;
      cur_model_output_ = torch::Tensor();
      break;
    }
  }
  const torch::Tensor& base = cur_sample_.defined() ? cur_sample_ : sample;
  auto prev = prev_sample(base, timestep, prev_timestep, eps);
  ++counter_;
  return prev;
}

torch::Tensor PndmScheduler::step_plms(const torch::Tensor& model_output, int64_t timestep,
                                       const torch::Tensor& sample) {
  TORCH_CHECK(skip_prk_steps_ || ets_.size() >= 3, "PNDM: PLMS steps need the 12 Runge-Kutta steps first");
  int64_t prev_timestep = timestep - schedule_.num_train_timesteps / num_inference_steps_;
  if (counter_ != 1) {
    if (ets_.size() > 3) ets_.erase(ets_.begin(), ets_.end() - 3);
    ets_.push_back(model_output);
  } else {
    // The repeated timestep: go back to the first sample and average the two noise estimates.
    prev_timestep = timestep;
    timestep = timestep + schedule_.num_train_timesteps / num_inference_steps_;
  }
  torch::Tensor eps;
  torch::Tensor x = sample;
  const size_t n = ets_.size();
  if (n == 1 && counter_ == 0) {
    eps = model_output;
    cur_sample_ = sample;
  } else if (n == 1 && counter_ == 1) {
    eps = (model_output + ets_[0]) / 2;
    x = cur_sample_;
    cur_sample_ = torch::Tensor();
  } else if (n == 2) {
    eps = (ets_[1] * 3 - ets_[0]) / 2;
  } else if (n == 3) {
    eps = (ets_[2] * 23 - ets_[1] * 16 + ets_[0] * 5) / 12;
  } else {
    eps = (ets_[n - 1] * 55 - ets_[n - 2] * 59 + ets_[n - 3] * 37 - ets_[n - 4] * 9) * (1.0 / 24);
  }
  auto prev = prev_sample(x, timestep, prev_timestep, eps);
  ++counter_;
  return prev;
}

torch::Tensor PndmScheduler::prev_sample(const torch::Tensor& sample, int64_t timestep, int64_t prev_timestep,
                                         torch::Tensor model_output) const {
  const auto& ac = schedule_.alphas_cumprod_values;
  TORCH_CHECK(timestep >= 0 && timestep < static_cast<int64_t>(ac.size()), "PNDM: timestep ", timestep,
              " out of range");
  // float32 scalars, as diffusers' 0-d tensors.
  const float alpha_t = ac[timestep];
  const float alpha_prev = prev_timestep >= 0 ? ac[prev_timestep] : final_alpha_cumprod_;
  const float beta_t = 1 - alpha_t;
  const float beta_prev = 1 - alpha_prev;
  if (prediction_type_ == "v_prediction") {
    model_output = model_output * double(std::sqrt(alpha_t)) + sample * double(std::sqrt(beta_t));
  }
  const float sample_coeff = std::sqrt(alpha_prev / alpha_t);
  const float denom = alpha_t * std::sqrt(beta_prev) + std::sqrt(alpha_t * beta_t * alpha_prev);
  return sample * double(sample_coeff) - model_output * double(alpha_prev - alpha_t) / double(denom);
}

torch::Tensor PndmScheduler::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                       const torch::Tensor& timesteps) {
  return add_noise_alpha(schedule_.alphas_cumprod, original, noise, timesteps);
}

}  // namespace gligen::samplers
