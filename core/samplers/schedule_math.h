// Numerics shared by the schedulers: the training noise schedule (betas, alphas_cumprod), and the
// NumPy operations diffusers builds its inference schedules with, reproduced with NumPy's own
// arithmetic (linspace, arange with a float step, round-half-to-even, interp), so that timesteps
// are identical integers and sigmas the identical float32 values.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/samplers/scheduler_config.h"

namespace gligen::samplers {

// betas [T] and alphas_cumprod [T], float32 on the CPU, as the diffusers classes compute them.
struct TrainingSchedule {
  int64_t num_train_timesteps = 1000;
  torch::Tensor betas;
  torch::Tensor alphas_cumprod;
  std::vector<float> alphas_cumprod_values;  // the same values, for scalar arithmetic
};

struct TrainingScheduleOptions {
  bool allow_zero_snr_rescale = false;    // classes with `rescale_betas_zero_snr`
  bool clamp_last_alpha_cumprod = false;  // Euler/DPM set alphas_cumprod[-1] = 2^-24 after a rescale
  bool allow_sigmoid = false;             // DDPM's extra beta schedule
};

// Resolves num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas (and
// rescale_betas_zero_snr) with the defaults every diffusers class shares (1000, 1e-4, 0.02, linear).
TrainingSchedule make_training_schedule(const SchedulerConfig& config, const TrainingScheduleOptions& options);

// float32 sigmas sqrt((1 - a) / a) of the training timesteps, in timestep order.
std::vector<float> training_sigmas(const std::vector<float>& alphas_cumprod);

// log and exp of one float32 value as torch computes them for a 0-d float32 tensor (diffusers'
// scalar arithmetic): on the CPU torch uses SLEEF's vectorised functions even for one element,
// which can differ from libm in the last bit.
float log_f32(float x);
float exp_f32(float x);

// numpy.linspace(start, stop, num) in float64.
std::vector<double> np_linspace(double start, double stop, int64_t num);
// numpy.arange(start, stop, step) for a float step.
std::vector<double> np_arange(double start, double stop, double step);
// numpy.round (half to even).
double np_round(double x);
// numpy.interp(x, arange(len(fp)), fp).
double np_interp_index(double x, const std::vector<double>& fp);

// The integer inference timesteps of DDIM and DDPM, in denoising order, for diffusers'
// `timestep_spacing` ("linspace", "leading" with `steps_offset`, or "trailing").
std::vector<int64_t> spaced_timesteps(const std::string& spacing, int64_t num_train_timesteps, int64_t num_steps,
                                      int64_t steps_offset);

// Karras et al. (2022) sigmas, rho = 7, from sigma_max down to sigma_min (float64, as diffusers).
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t num);

// diffusers' _sigma_to_t: the fractional training timestep of `sigma` by piecewise-linear
// interpolation of log sigma; `log_sigmas` are float32 logs of the training sigmas.
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);

// sqrt(alphas_cumprod[t]) * original + sqrt(1 - alphas_cumprod[t]) * noise, with t [B] indexing
// the leading dimension: the forward process of DDPM, PNDM and DDIM (`add_noise`).
torch::Tensor add_noise_alpha(const torch::Tensor& alphas_cumprod, const torch::Tensor& original,
                              const torch::Tensor& noise, const torch::Tensor& timesteps);

// sqrt(alphas_cumprod[t]) * noise - sqrt(1 - alphas_cumprod[t]) * sample: the v-prediction target.
torch::Tensor velocity_alpha(const torch::Tensor& alphas_cumprod, const torch::Tensor& sample,
                             const torch::Tensor& noise, const torch::Tensor& timesteps);

// Checks that `value` is one of `allowed` (comma-separated in messages), else gligen::Error.
void require_one_of(const SchedulerConfig& config, const std::string& key, const std::string& value,
                    const std::vector<std::string>& allowed, const std::string& class_name);

}  // namespace gligen::samplers
