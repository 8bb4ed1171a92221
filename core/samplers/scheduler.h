// The denoising schedulers ("samplers") of diffusers v0.27.2, behind one interface.
//
// Use, as a diffusers pipeline does:
//   auto s = make_scheduler("euler", config);          // or make_default_scheduler(config)
//   s->set_timesteps(steps, device);
//   latents = noise * s->init_noise_sigma();
//   for (t : s->timesteps()) {
//     eps = unet(s->scale_model_input(latents, t), t, ...);
//     latents = s->step(eps, t, latents, &generator).prev_sample;
//   }
// Each scheduler keeps per-run state (PNDM's history of model outputs, LMS's derivatives,
// DPM-Solver's previous outputs, the step index of the sigma-based ones); set_timesteps resets it.
// Like diffusers' Euler, LMS and DPM-Solver, the sigma-based schedulers find their step index from
// the first timestep they are given and then advance it by one per step, so a schedule with a
// repeated timestep (PNDM's second timestep, Karras schedules) is walked in order.
//
// Arithmetic follows diffusers operation by operation in float32 (scalars are float32 0-d values
// there), so results agree to rounding. Samplers never include network headers.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/samplers/schedule_math.h"
#include "core/samplers/scheduler_config.h"

namespace gligen::samplers {

class NoiseGenerator;

// What a step may use besides the model output.
struct StepExtras {
  double eta = 0.0;                     // DDIM's eta (0: deterministic DDIM); ignored by the others
  NoiseGenerator* generator = nullptr;  // the source of step noise (Euler ancestral, DDIM eta > 0)
  // Pre-drawn N(0, 1) step noise of the sample's shape; when defined it is used instead of a draw
  // (diffusers' variance_noise; also how a recorded run is replayed). Without it or a generator,
  // noise comes from torch's default generator on the sample's device, as diffusers does.
  torch::Tensor noise;
};

struct StepOutput {
  torch::Tensor prev_sample;
  // The model's estimate of the clean sample; undefined for PNDM and DPM-Solver, which (as in
  // diffusers) do not report one.
  torch::Tensor pred_original_sample;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Our name ("pndm", "ddim", "euler", "euler-a", "dpm++2m", "lms") and the diffusers class.
  virtual std::string name() const = 0;
  virtual std::string diffusers_class() const = 0;

  // Computes the inference timesteps for `num_inference_steps` and resets all per-run state.
  // timesteps() then lives on `device`.
  void set_timesteps(int64_t num_inference_steps, const torch::Device& device = torch::kCPU);
  // [T] int64 (PNDM, DDIM, DPM-Solver) or float32 (Euler, Euler ancestral, LMS). PNDM with
  // skip_prk_steps gives num_inference_steps + 1 entries.
  const torch::Tensor& timesteps() const { return timesteps_; }
  int64_t num_inference_steps() const { return num_inference_steps_; }
  // The sigmas of the sigma-based schedulers ([T + 1] float32, CPU, last one the final sigma);
  // undefined for PNDM and DDIM.
  virtual torch::Tensor sigmas() const { return {}; }

  // Standard deviation of the initial noise: latents = N(0, 1) * init_noise_sigma().
  virtual double init_noise_sigma() const { return 1.0; }

  // The UNet input for `sample` at timestep `t` (identity except for the sigma-based schedulers).
  torch::Tensor scale_model_input(const torch::Tensor& sample, double timestep);
  torch::Tensor scale_model_input(const torch::Tensor& sample, const torch::Tensor& timestep);

  // One denoising step from `sample` at `timestep`, given the model output there.
  StepOutput step(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                  const StepExtras& extras = StepExtras());
  StepOutput step(const torch::Tensor& model_output, const torch::Tensor& timestep, const torch::Tensor& sample,
                  const StepExtras& extras);
  StepOutput step(const torch::Tensor& model_output, const torch::Tensor& timestep, const torch::Tensor& sample,
                  NoiseGenerator* generator = nullptr, double eta = 0.0);

  // The forward (noising) process at the given timesteps [B] (one per sample of `original`).
  virtual torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                  const torch::Tensor& timesteps) = 0;

  // For image-to-image: the step index to start from (diffusers' set_begin_index). Only the
  // sigma-based schedulers use it; it is cleared by set_timesteps.
  void set_begin_index(int64_t begin_index) { begin_index_ = begin_index; }

  int64_t num_train_timesteps() const { return schedule_.num_train_timesteps; }
  const torch::Tensor& betas() const { return schedule_.betas; }
  const torch::Tensor& alphas_cumprod() const { return schedule_.alphas_cumprod; }

 protected:
  explicit Scheduler(TrainingSchedule schedule) : schedule_(std::move(schedule)) {}

  // Fill timesteps_ (and class state) and reset the per-run state.
  virtual void compute_timesteps(int64_t num_inference_steps, const torch::Device& device) = 0;
  virtual torch::Tensor scale_input_impl(const torch::Tensor& sample, double timestep) { return sample; }
  virtual StepOutput step_impl(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                               const StepExtras& extras) = 0;

  // Step noise as diffusers' randn_tensor draws it (see StepExtras).
  static torch::Tensor step_noise(const StepExtras& extras, const torch::Tensor& like);

  // Position of `timestep` in timesteps_: the second match when it occurs more than once (as
  // diffusers' index_for_timestep); -1 when absent.
  int64_t index_for_timestep(double timestep) const;
  // The sigma-based schedulers' step index: on the first call of a run it is the begin index when
  // one was set, else the index of `timestep` (absent: the last index when `absent_is_last`, as
  // DPM-Solver does, else an error). step_index_ is then advanced by step_impl.
  void ensure_step_index(double timestep, bool absent_is_last = false);

  const TrainingSchedule schedule_;
  torch::Tensor timesteps_;
  std::vector<double> timestep_values_;  // timesteps_ on the CPU, exactly
  int64_t num_inference_steps_ = 0;
  int64_t begin_index_ = -1;  // -1: none
  int64_t step_index_ = -1;   // -1: not started
};

// Scheduler names this engine implements, in menu order.
const std::vector<std::string>& scheduler_names();

// Our name of a diffusers scheduler class ("PNDMScheduler" -> "pndm"); throws gligen::Error for
// a class this engine does not implement.
std::string scheduler_name_for_class(const std::string& diffusers_class);

// Builds scheduler `name` from a model's scheduler config, as `Class.from_config(config)`.
// "dpm++2m" applies algorithm_type="dpmsolver++" and solver_order=2 over the config. An empty
// name builds the config's own class (make_default_scheduler). Throws gligen::Error for an
// unknown name or a setting the class does not support.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerConfig& config);
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config);

// The config's own `_class_name` with the config as it is (absent class: PNDM, SD 1.x's default).
std::unique_ptr<Scheduler> make_default_scheduler(const SchedulerConfig& config);

}  // namespace gligen::samplers
