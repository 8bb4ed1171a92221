// A diffusers scheduler configuration (scheduler/scheduler_config.json), as written, before any
// scheduler class resolves it. Every key is optional: a key the file lacks takes the default of
// the class that is built from it, and those defaults differ between classes (PNDM and DDIM
// default `timestep_spacing` to "leading", Euler, LMS and DPM-Solver to "linspace"), exactly as
// diffusers' `Scheduler.from_config(config)` (v0.27.2) resolves them. Keys named in the file's
// `_use_default_values` list count as absent, as in diffusers. Unknown keys are ignored.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gligen::samplers {

struct SchedulerConfig {
  std::string source = "scheduler config";  // names the file in error messages
  std::string class_name;                   // "_class_name", "" when absent

  // The training noise schedule (all classes).
  std::optional<int64_t> num_train_timesteps;
  std::optional<double> beta_start;
  std::optional<double> beta_end;
  std::optional<std::string> beta_schedule;  // linear | scaled_linear | squaredcos_cap_v2 (| sigmoid: DDPM)
  std::optional<std::vector<double>> trained_betas;
  std::optional<bool> rescale_betas_zero_snr;

  // Inference timesteps and model parameterisation.
  std::optional<std::string> prediction_type;   // epsilon | v_prediction | sample
  std::optional<std::string> timestep_spacing;  // leading | trailing | linspace
  std::optional<int64_t> steps_offset;

  // PNDM / DDIM / DDPM.
  std::optional<bool> set_alpha_to_one;
  std::optional<bool> skip_prk_steps;
  std::optional<bool> clip_sample;
  std::optional<double> clip_sample_range;
  std::optional<bool> thresholding;
  std::optional<std::string> variance_type;  // DDPM: fixed_small ...; DPM-Solver: learned / learned_range

  // Sigma-based schedulers (Euler, Euler ancestral, LMS, DPM-Solver).
  std::optional<bool> use_karras_sigmas;
  std::optional<double> sigma_min;
  std::optional<double> sigma_max;
  std::optional<std::string> interpolation_type;  // Euler: linear | log_linear
  std::optional<std::string> timestep_type;       // Euler: discrete | continuous

  // DPM-Solver multistep.
  std::optional<int64_t> solver_order;
  std::optional<std::string> algorithm_type;  // dpmsolver++ (deis is mapped to it, as diffusers does)
  std::optional<std::string> solver_type;     // midpoint | heun
  std::optional<bool> lower_order_final;
  std::optional<bool> euler_at_final;
  std::optional<bool> use_lu_lambdas;
  std::optional<std::string> final_sigmas_type;  // zero | sigma_min
  std::optional<double> lambda_min_clipped;
};

// Parses a scheduler config object. Throws gligen::Error naming `source` and the key when a
// value has the wrong type. Values are validated by the scheduler class that uses them.
SchedulerConfig scheduler_config_from_json(const nlohmann::json& json, const std::string& source = "scheduler config");

// Parses JSON text. Python's json writes -Infinity / Infinity / NaN for non-finite floats
// (DPM-Solver's lambda_min_clipped defaults to -inf); those tokens are accepted here.
SchedulerConfig scheduler_config_from_text(const std::string& text, const std::string& source = "scheduler config");

// Reads `path` (a scheduler/scheduler_config.json). Throws gligen::Error when missing or invalid.
SchedulerConfig load_scheduler_config(const std::string& path);

}  // namespace gligen::samplers
