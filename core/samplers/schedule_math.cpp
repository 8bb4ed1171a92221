#include "core/samplers/schedule_math.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace gligen::samplers {
namespace {

// Improved DDPM's cosine schedule (betas_for_alpha_bar with the "cosine" transform), in float64.
torch::Tensor cosine_betas(int64_t num_train_timesteps) {
  const double pi = 3.14159265358979323846;
  auto alpha_bar = [&](double t) {
    const double c = std::cos((t + 0.008) / 1.008 * pi / 2);
    return c * c;
  };
  std::vector<double> betas;
  betas.reserve(num_train_timesteps);
  for (int64_t i = 0; i < num_train_timesteps; ++i) {
    const double t1 = double(i) / double(num_train_timesteps);
    const double t2 = double(i + 1) / double(num_train_timesteps);
    betas.push_back(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
  }
  return torch::tensor(betas, torch::kFloat64).to(torch::kFloat32);
}

// Lin et al. (2023): rescales betas so that the last timestep has zero SNR.
torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas) {
  auto alphas = 1.0 - betas;
  auto alphas_bar_sqrt = torch::cumprod(alphas, 0).sqrt();
  auto first = alphas_bar_sqrt[0].clone();
  auto last = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt -= last;
  alphas_bar_sqrt *= first / (first - last);
  auto alphas_bar = alphas_bar_sqrt.pow(2);
  auto ratios = alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1);
  return 1 - torch::cat({alphas_bar.slice(0, 0, 1), ratios});
}

}  // namespace

void require_one_of(const SchedulerConfig& config, const std::string& key, const std::string& value,
                    const std::vector<std::string>& allowed, const std::string& class_name) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(config.source + ": " + class_name + " does not support " + key + " \"" + value +
              "\" (supported: " + list + ")");
}

TrainingSchedule make_training_schedule(const SchedulerConfig& c, const TrainingScheduleOptions& options) {
  TrainingSchedule s;
  s.num_train_timesteps = c.num_train_timesteps.value_or(1000);
  if (s.num_train_timesteps < 2) {
    throw Error(c.source + ": num_train_timesteps must be at least 2, got " + std::to_string(s.num_train_timesteps));
  }
  const int64_t n = s.num_train_timesteps;
  const double beta_start = c.beta_start.value_or(0.0001);
  const double beta_end = c.beta_end.value_or(0.02);
  const std::string schedule = c.beta_schedule.value_or("linear");
  torch::Tensor betas;
  if (c.trained_betas) {
    if (static_cast<int64_t>(c.trained_betas->size()) != n) {
      throw Error(c.source + ": trained_betas has " + std::to_string(c.trained_betas->size()) +
                  " values but num_train_timesteps is " + std::to_string(n));
    }
    betas = torch::tensor(*c.trained_betas, torch::kFloat64).to(torch::kFloat32);
  } else if (schedule == "linear") {
    betas = torch::linspace(beta_start, beta_end, n, torch::kFloat32);
  } else if (schedule == "scaled_linear") {
    // Python's beta ** 0.5 is libm pow, then the float32 squares.
    betas = torch::linspace(std::pow(beta_start, 0.5), std::pow(beta_end, 0.5), n, torch::kFloat32).pow(2);
  } else if (schedule == "squaredcos_cap_v2") {
    betas = cosine_betas(n);
  } else if (schedule == "sigmoid" && options.allow_sigmoid) {
    betas = torch::sigmoid(torch::linspace(-6, 6, n, torch::kFloat32)) * (beta_end - beta_start) + beta_start;
  } else {
    std::vector<std::string> allowed{"linear", "scaled_linear", "squaredcos_cap_v2"};
    if (options.allow_sigmoid) allowed.push_back("sigmoid");
    require_one_of(c, "beta_schedule", schedule, allowed, "this scheduler");
  }
  const bool rescale = options.allow_zero_snr_rescale && c.rescale_betas_zero_snr.value_or(false);
  if (rescale) betas = rescale_zero_terminal_snr(betas);
  s.betas = betas.contiguous();
  s.alphas_cumprod = torch::cumprod(1.0 - s.betas, 0).contiguous();
  if (rescale && options.clamp_last_alpha_cumprod) s.alphas_cumprod[-1] = std::pow(2.0, -24);
  const float* p = s.alphas_cumprod.data_ptr<float>();
  s.alphas_cumprod_values.assign(p, p + n);
  return s;
}

float log_f32(float x) { return torch::log(torch::scalar_tensor(x, torch::kFloat32)).item<float>(); }
float exp_f32(float x) { return torch::exp(torch::scalar_tensor(x, torch::kFloat32)).item<float>(); }

std::vector<float> training_sigmas(const std::vector<float>& alphas_cumprod) {
  std::vector<float> sigmas(alphas_cumprod.size());
  for (size_t i = 0; i < sigmas.size(); ++i) {
    const float a = alphas_cumprod[i];
    sigmas[i] = std::sqrt((1.0f - a) / a);
  }
  return sigmas;
}

std::vector<double> np_linspace(double start, double stop, int64_t num) {
  std::vector<double> y;
  if (num <= 0) return y;
  y.resize(num);
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double delta = stop - start;
  const double step = delta / double(num - 1);
  for (int64_t i = 0; i < num; ++i) {
    // NumPy scales by the step, or (when the step underflows to 0) divides then scales.
    y[i] = (step == 0 ? double(i) / double(num - 1) * delta : double(i) * step) + start;
  }
  y[num - 1] = stop;
  return y;
}

std::vector<double> np_arange(double start, double stop, double step) {
  std::vector<double> y;
  const double len = std::ceil((stop - start) / step);
  if (!(len > 0)) return y;
  y.resize(static_cast<size_t>(len));
  y[0] = start;
  // NumPy fills with start + i * ((start + step) - start).
  const double delta = (start + step) - start;
  for (size_t i = 1; i < y.size(); ++i) y[i] = start + double(i) * delta;
  return y;
}

double np_round(double x) { return std::nearbyint(x); }

double np_interp_index(double x, const std::vector<double>& fp) {
  const int64_t n = static_cast<int64_t>(fp.size());
  if (std::isnan(x)) return x;
  if (x < 0) return fp.front();
  if (x >= double(n - 1)) return fp.back();
  const int64_t j = static_cast<int64_t>(std::floor(x));
  if (double(j) == x) return fp[j];
  const double slope = (fp[j + 1] - fp[j]) / 1.0;
  double y = slope * (x - double(j)) + fp[j];
  if (std::isnan(y)) {
    y = slope * (x - double(j + 1)) + fp[j + 1];
    if (std::isnan(y) && fp[j] == fp[j + 1]) y = fp[j];
  }
  return y;
}

std::vector<int64_t> spaced_timesteps(const std::string& spacing, int64_t train, int64_t n, int64_t steps_offset) {
  std::vector<int64_t> ts;
  if (spacing == "linspace") {
    const auto v = np_linspace(0, double(train - 1), n);
    for (auto it = v.rbegin(); it != v.rend(); ++it) ts.push_back(static_cast<int64_t>(np_round(*it)));
  } else if (spacing == "leading") {
    const int64_t ratio = train / n;
    for (int64_t i = n - 1; i >= 0; --i) ts.push_back(i * ratio + steps_offset);
  } else {  // trailing
    for (double v : np_arange(double(train), 0, -double(train) / double(n))) {
      ts.push_back(static_cast<int64_t>(np_round(v)) - 1);
    }
  }
  return ts;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t num) {
  const double rho = 7.0;
  const double min_inv_rho = std::pow(sigma_min, 1 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1 / rho);
  std::vector<double> sigmas;
  for (double r : np_linspace(0, 1, num))
    sigmas.push_back(std::pow(max_inv_rho + r * (min_inv_rho - max_inv_rho), rho));
  return sigmas;
}

double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
  const int64_t n = static_cast<int64_t>(log_sigmas.size());
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  // low = the first index where the running count of (log_sigma >= log_sigmas[i]) is largest.
  int64_t count = 0, best = -1, low = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (log_sigma - double(log_sigmas[i]) >= 0) ++count;
    if (count > best) {
      best = count;
      low = i;
    }
  }
  low = std::min(low, n - 2);
  const int64_t high = low + 1;
  const float lo = log_sigmas[low], hi = log_sigmas[high];
  const float span = lo - hi;  // float32 arithmetic, as NumPy on float32 arrays
  double w = (double(lo) - log_sigma) / double(span);
  w = std::clamp(w, 0.0, 1.0);
  return (1 - w) * double(low) + w * double(high);
}

torch::Tensor add_noise_alpha(const torch::Tensor& alphas_cumprod, const torch::Tensor& original,
                              const torch::Tensor& noise, const torch::Tensor& timesteps) {
  const auto ac = alphas_cumprod.to(original.device()).to(original.scalar_type());
  const auto t = timesteps.to(original.device()).to(torch::kLong).reshape({-1});
  const auto ac_t = ac.index({t});
  auto sqrt_alpha = ac_t.pow(0.5).flatten();
  auto sqrt_one_minus_alpha = (1 - ac_t).pow(0.5).flatten();
  while (sqrt_alpha.dim() < original.dim()) {
    sqrt_alpha = sqrt_alpha.unsqueeze(-1);
    sqrt_one_minus_alpha = sqrt_one_minus_alpha.unsqueeze(-1);
  }
  return sqrt_alpha * original + sqrt_one_minus_alpha * noise;
}

torch::Tensor velocity_alpha(const torch::Tensor& alphas_cumprod, const torch::Tensor& sample,
                             const torch::Tensor& noise, const torch::Tensor& timesteps) {
  const auto ac = alphas_cumprod.to(sample.device()).to(sample.scalar_type());
  const auto t = timesteps.to(sample.device()).to(torch::kLong).reshape({-1});
  const auto ac_t = ac.index({t});
  auto sqrt_alpha = ac_t.pow(0.5).flatten();
  auto sqrt_one_minus_alpha = (1 - ac_t).pow(0.5).flatten();
  while (sqrt_alpha.dim() < sample.dim()) {
    sqrt_alpha = sqrt_alpha.unsqueeze(-1);
    sqrt_one_minus_alpha = sqrt_one_minus_alpha.unsqueeze(-1);
  }
  return sqrt_alpha * noise - sqrt_one_minus_alpha * sample;
}

}  // namespace gligen::samplers
