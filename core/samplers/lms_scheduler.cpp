#include "core/samplers/lms_scheduler.h"

#include <torch/torch.h>

#include <algorithm>

namespace gligen::samplers {

LmsScheduler::LmsScheduler(const SchedulerConfig& c)
    : SigmaScheduler(c, make_training_schedule(c, {}), "LMSDiscreteScheduler"),
      use_karras_sigmas_(c.use_karras_sigmas.value_or(false)) {
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "v_prediction", "sample"}, class_name_);
}

void LmsScheduler::compute_timesteps(int64_t n, const torch::Device& device) {
  std::vector<float> ts = spaced_timesteps(n);
  std::vector<double> sig = interpolated_sigmas(ts);
  if (use_karras_sigmas_) {
    sig = karras_sigmas(sig.back(), sig.front(), n);
    // diffusers keeps these fractional timesteps in float64; the UNet casts them to float32 anyway.
    ts.clear();
    for (double s : sig) ts.push_back(static_cast<float>(sigma_to_t(s, log_train_sigmas_)));
  }
  set_schedule(ts, sig, device);
  derivatives_.clear();
}

double LmsScheduler::lms_coefficient(int64_t order, int64_t t, int64_t current_order) const {
  // Lagrange basis polynomial through sigmas[t], sigmas[t-1], ..., sigmas[t-order+1] that is 1 at
  // sigmas[t-current_order], integrated from sigmas[t] to sigmas[t+1].
  auto basis = [&](double tau) {
    double prod = 1.0;
    for (int64_t k = 0; k < order; ++k) {
      if (k == current_order) continue;
      prod *= (tau - double(sigmas_[t - k])) / (double(sigmas_[t - current_order]) - double(sigmas_[t - k]));
    }
    return prod;
  };
  // 4-point Gauss-Legendre: exact for polynomials up to degree 7.
  static const double nodes[4] = {-0.86113631159405257522, -0.33998104358485626480, 0.33998104358485626480,
                                  0.86113631159405257522};
  static const double weights[4] = {0.34785484513745385737, 0.65214515486254614263, 0.65214515486254614263,
                                    0.34785484513745385737};
  const double a = sigmas_[t], b = sigmas_[t + 1];
  const double half = (b - a) / 2, mid = (a + b) / 2;
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += weights[i] * basis(mid + half * nodes[i]);
  return sum * half;
}

StepOutput LmsScheduler::step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                                   const StepExtras&) {
  ensure_step_index(timestep);
  TORCH_CHECK(step_index_ + 1 < static_cast<int64_t>(sigmas_.size()), "LMS: stepped past the last timestep");
  const float sigma = sigmas_[step_index_];
  StepOutput out;
  out.pred_original_sample = predict_original(model_output, sample, sigma);
  derivatives_.push_back((sample - out.pred_original_sample) / double(sigma));
  if (static_cast<int64_t>(derivatives_.size()) > order) derivatives_.erase(derivatives_.begin());
  const int64_t current = std::min(step_index_ + 1, order);
  // Sum over the newest derivatives first; after a begin index there may be fewer than `current`.
  torch::Tensor update;
  const int64_t terms = std::min<int64_t>(current, static_cast<int64_t>(derivatives_.size()));
  for (int64_t k = 0; k < terms; ++k) {
    const auto term = derivatives_[derivatives_.size() - 1 - k] * lms_coefficient(current, step_index_, k);
    update = update.defined() ? update + term : term;
  }
  out.prev_sample = sample + update;
  ++step_index_;
  return out;
}

}  // namespace gligen::samplers
