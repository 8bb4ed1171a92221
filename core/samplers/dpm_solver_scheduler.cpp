#include "core/samplers/dpm_solver_scheduler.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/util/error.h"

namespace gligen::samplers {
namespace {

// The data-prediction parameterisation: x = alpha * x0 + sigma_t * eps with sigma_t = sigma * alpha,
// alpha = 1 / sqrt(sigma^2 + 1), all in float32 as diffusers' 0-d tensors.
struct AlphaSigma {
  float alpha, sigma, lambda;
};

AlphaSigma alpha_sigma(float sigma) {
  const float alpha = 1 / std::sqrt(sigma * sigma + 1);
  const float sigma_t = sigma * alpha;
  return {alpha, sigma_t, log_f32(alpha) - log_f32(sigma_t)};
}

}  // namespace

DpmSolverMultistepScheduler::DpmSolverMultistepScheduler(const SchedulerConfig& c)
    : Scheduler(make_training_schedule(c, {true, true, false})),
      solver_order_(c.solver_order.value_or(2)),
      prediction_type_(c.prediction_type.value_or("epsilon")),
      solver_type_(c.solver_type.value_or("midpoint")),
      lower_order_final_(c.lower_order_final.value_or(true)),
      euler_at_final_(c.euler_at_final.value_or(false)),
      use_karras_sigmas_(c.use_karras_sigmas.value_or(false)),
      use_lu_lambdas_(c.use_lu_lambdas.value_or(false)),
      final_sigmas_type_(c.final_sigmas_type.value_or("zero")),
      lambda_min_clipped_(c.lambda_min_clipped.value_or(-std::numeric_limits<double>::infinity())),
      variance_type_(c.variance_type.value_or("")),
      timestep_spacing_(c.timestep_spacing.value_or("linspace")),
      steps_offset_(c.steps_offset.value_or(0)),
      sigma_min_(c.sigma_min),
      sigma_max_(c.sigma_max) {
  const std::string cls = "DPMSolverMultistepScheduler";
  std::string algorithm = c.algorithm_type.value_or("dpmsolver++");
  if (algorithm == "deis") algorithm = "dpmsolver++";  // diffusers maps it so
  if (algorithm != "dpmsolver++") {
    throw Error(c.source + ": DPMSolverMultistepScheduler with algorithm_type \"" + algorithm +
                "\" is not supported (only dpmsolver++); use the dpm++2m sampler");
  }
  if (solver_type_ == "logrho" || solver_type_ == "bh1" || solver_type_ == "bh2") solver_type_ = "midpoint";
  require_one_of(c, "solver_type", solver_type_, {"midpoint", "heun"}, cls);
  require_one_of(c, "prediction_type", prediction_type_, {"epsilon", "sample", "v_prediction"}, cls);
  require_one_of(c, "timestep_spacing", timestep_spacing_, {"leading", "trailing", "linspace"}, cls);
  require_one_of(c, "final_sigmas_type", final_sigmas_type_, {"zero", "sigma_min"}, cls);
  if (solver_order_ < 1 || solver_order_ > 3) {
    throw Error(c.source + ": DPMSolverMultistepScheduler solver_order must be 1, 2 or 3, got " +
                std::to_string(solver_order_));
  }
  if (c.thresholding.value_or(false)) {
    throw Error(c.source +
                ": DPMSolverMultistepScheduler with \"thresholding\": true is not supported; "
                "set it to false or pick another scheduler");
  }
  train_sigmas_ = training_sigmas(schedule_.alphas_cumprod_values);
  for (float s : train_sigmas_) log_train_sigmas_.push_back(std::log(s));
  for (float a : schedule_.alphas_cumprod_values)
    lambda_t_.push_back(log_f32(std::sqrt(a)) - log_f32(std::sqrt(1 - a)));
  sigmas_ = train_sigmas_;
  sigmas_tensor_ = torch::tensor(sigmas_, torch::kFloat32);
}

void DpmSolverMultistepScheduler::compute_timesteps(int64_t n, const torch::Device& device) {
  const int64_t train = schedule_.num_train_timesteps;
  // Timesteps whose lambda is below lambda_min_clipped are cut off (for cosine schedules).
  int64_t clipped = 0;
  while (clipped < train && double(lambda_t_[train - 1 - clipped]) < lambda_min_clipped_) ++clipped;
  const int64_t last_timestep = train - clipped;

  std::vector<double> ts;
  if (timestep_spacing_ == "linspace") {
    const auto v = np_linspace(0, double(last_timestep - 1), n + 1);
    for (int64_t i = n; i >= 1; --i) ts.push_back(np_round(v[i]));
  } else if (timestep_spacing_ == "leading") {
    const int64_t ratio = last_timestep / (n + 1);
    for (int64_t i = n; i >= 1; --i) ts.push_back(double(i * ratio + steps_offset_));
  } else {  // trailing
    for (double v : np_arange(double(last_timestep), 0, -double(train) / double(n))) ts.push_back(np_round(v) - 1);
  }

  std::vector<double> sig;
  if (use_karras_sigmas_) {
    const double lo = sigma_min_ ? *sigma_min_ : double(train_sigmas_.front());
    const double hi = sigma_max_ ? *sigma_max_ : double(train_sigmas_.back());
    sig = karras_sigmas(lo, hi, n);
    ts.clear();
    for (double s : sig) ts.push_back(np_round(sigma_to_t(s, log_train_sigmas_)));
  } else if (use_lu_lambdas_) {
    // Uniform steps in lambda = -log sigma between the training extremes.
    const double lambda_min = log_train_sigmas_.front(), lambda_max = log_train_sigmas_.back();
    ts.clear();
    for (double r : np_linspace(0, 1, n)) {
      const double s = std::exp(lambda_max + r * (lambda_min - lambda_max));
      sig.push_back(s);
      ts.push_back(np_round(sigma_to_t(s, log_train_sigmas_)));
    }
  } else {
    const std::vector<double> fp(train_sigmas_.begin(), train_sigmas_.end());
    for (double t : ts) sig.push_back(np_interp_index(t, fp));
  }
  sigmas_.clear();
  for (double s : sig) sigmas_.push_back(static_cast<float>(s));
  const float a0 = schedule_.alphas_cumprod_values[0];
  sigmas_.push_back(final_sigmas_type_ == "zero" ? 0.0f : std::sqrt((1 - a0) / a0));
  sigmas_tensor_ = torch::tensor(sigmas_, torch::kFloat32);

  std::vector<int64_t> its;
  for (double t : ts) its.push_back(static_cast<int64_t>(t));
  timesteps_ = torch::tensor(its, torch::kLong).to(device);
  num_inference_steps_ = static_cast<int64_t>(its.size());
  model_outputs_.assign(solver_order_, torch::Tensor());
  lower_order_nums_ = 0;
}

torch::Tensor DpmSolverMultistepScheduler::convert_model_output(const torch::Tensor& model_output,
                                                                const torch::Tensor& sample) const {
  const AlphaSigma s = alpha_sigma(sigmas_[step_index_]);
  if (prediction_type_ == "epsilon") {
    torch::Tensor eps = model_output;
    // Models with learned variance (DeepFloyd IF) put it in the channels after the first 3.
    if (variance_type_ == "learned" || variance_type_ == "learned_range") eps = model_output.slice(1, 0, 3);
    return (sample - eps * double(s.sigma)) / double(s.alpha);
  }
  if (prediction_type_ == "sample") return model_output;
  return sample * double(s.alpha) - model_output * double(s.sigma);  // v_prediction
}

torch::Tensor DpmSolverMultistepScheduler::first_order_update(const torch::Tensor& x0,
                                                              const torch::Tensor& sample) const {
  const AlphaSigma t = alpha_sigma(sigmas_[step_index_ + 1]);
  const AlphaSigma s = alpha_sigma(sigmas_[step_index_]);
  const float h = t.lambda - s.lambda;
  // At the final sigma 0: sigma_t = 0, lambda = inf, exp(-h) = 0, so x_t = x0.
  return sample * double(t.sigma / s.sigma) - x0 * double(t.alpha * (exp_f32(-h) - 1.0f));
}

torch::Tensor DpmSolverMultistepScheduler::second_order_update(const torch::Tensor& sample) const {
  const AlphaSigma t = alpha_sigma(sigmas_[step_index_ + 1]);
  const AlphaSigma s0 = alpha_sigma(sigmas_[step_index_]);
  const AlphaSigma s1 = alpha_sigma(sigmas_[step_index_ - 1]);
  const torch::Tensor& m0 = model_outputs_[solver_order_ - 1];
  const torch::Tensor& m1 = model_outputs_[solver_order_ - 2];
  const float h = t.lambda - s0.lambda, h_0 = s0.lambda - s1.lambda;
  const float r0 = h_0 / h;
  const torch::Tensor& d0 = m0;
  const torch::Tensor d1 = (m0 - m1) * double(1.0f / r0);
  const float phi = t.alpha * (exp_f32(-h) - 1.0f);
  const auto x = sample * double(t.sigma / s0.sigma) - d0 * double(phi);
  if (solver_type_ == "midpoint") return x - d1 * double(0.5f * phi);
  return x + d1 * double(t.alpha * ((exp_f32(-h) - 1.0f) / h + 1.0f));  // heun
}

torch::Tensor DpmSolverMultistepScheduler::third_order_update(const torch::Tensor& sample) const {
  const AlphaSigma t = alpha_sigma(sigmas_[step_index_ + 1]);
  const AlphaSigma s0 = alpha_sigma(sigmas_[step_index_]);
  const AlphaSigma s1 = alpha_sigma(sigmas_[step_index_ - 1]);
  const AlphaSigma s2 = alpha_sigma(sigmas_[step_index_ - 2]);
  const torch::Tensor& m0 = model_outputs_[solver_order_ - 1];
  const torch::Tensor& m1 = model_outputs_[solver_order_ - 2];
  const torch::Tensor& m2 = model_outputs_[solver_order_ - 3];
  const float h = t.lambda - s0.lambda, h_0 = s0.lambda - s1.lambda, h_1 = s1.lambda - s2.lambda;
  const float r0 = h_0 / h, r1 = h_1 / h;
  const torch::Tensor d1_0 = (m0 - m1) * double(1.0f / r0);
  const torch::Tensor d1_1 = (m1 - m2) * double(1.0f / r1);
  const torch::Tensor d1 = d1_0 + (d1_0 - d1_1) * double(r0 / (r0 + r1));
  const torch::Tensor d2 = (d1_0 - d1_1) * double(1.0f / (r0 + r1));
  const float e = exp_f32(-h) - 1.0f;
  return sample * double(t.sigma / s0.sigma) - m0 * double(t.alpha * e) + d1 * double(t.alpha * (e / h + 1.0f)) -
         d2 * double(t.alpha * ((exp_f32(-h) - 1.0f + h) / (h * h) - 0.5f));
}

StepOutput DpmSolverMultistepScheduler::step_impl(const torch::Tensor& model_output, double timestep,
                                                  const torch::Tensor& input, const StepExtras&) {
  ensure_step_index(timestep, /*absent_is_last=*/true);
  const int64_t count = static_cast<int64_t>(timestep_values_.size());
  TORCH_CHECK(step_index_ < count, "DPM-Solver: stepped past the last timestep");
  // Few-step runs end with lower-order steps for stability; a final sigma of 0 always ends with a
  // first-order step.
  const bool lower_order_final = step_index_ == count - 1 && (euler_at_final_ || (lower_order_final_ && count < 15) ||
                                                              final_sigmas_type_ == "zero");
  const bool lower_order_second = step_index_ == count - 2 && lower_order_final_ && count < 15;

  const torch::Tensor x0 = convert_model_output(model_output, input);
  for (int64_t i = 0; i + 1 < solver_order_; ++i) model_outputs_[i] = model_outputs_[i + 1];
  model_outputs_[solver_order_ - 1] = x0;
  const torch::Tensor sample = input.to(torch::kFloat32);

  torch::Tensor prev;
  if (solver_order_ == 1 || lower_order_nums_ < 1 || lower_order_final) {
    prev = first_order_update(x0, sample);
  } else if (solver_order_ == 2 || lower_order_nums_ < 2 || lower_order_second) {
    prev = second_order_update(sample);
  } else {
    prev = third_order_update(sample);
  }
  if (lower_order_nums_ < solver_order_) ++lower_order_nums_;
  ++step_index_;
  StepOutput out;
  out.prev_sample = prev.to(model_output.scalar_type());
  return out;
}

torch::Tensor DpmSolverMultistepScheduler::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                                     const torch::Tensor& timesteps) {
  const auto ts = timesteps.to(torch::kCPU, torch::kFloat64).reshape({-1}).contiguous();
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < ts.numel(); ++i) {
    if (begin_index_ < 0) {
      int64_t idx = index_for_timestep(ts.data_ptr<double>()[i]);
      indices.push_back(idx >= 0 ? idx : static_cast<int64_t>(timestep_values_.size()) - 1);
    } else {
      indices.push_back(step_index_ >= 0 ? step_index_ : begin_index_);
    }
  }
  const auto sig = sigmas_tensor_.to(original.device(), original.scalar_type());
  auto sigma = sig.index({torch::tensor(indices, torch::kLong).to(original.device())}).flatten();
  while (sigma.dim() < original.dim()) sigma = sigma.unsqueeze(-1);
  const auto alpha_t = 1 / (sigma.pow(2) + 1).pow(0.5);
  const auto sigma_t = sigma * alpha_t;
  return alpha_t * original + sigma_t * noise;
}

}  // namespace gligen::samplers
