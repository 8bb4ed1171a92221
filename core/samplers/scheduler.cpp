#include "core/samplers/scheduler.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/samplers/ddim_scheduler.h"
#include "core/samplers/dpm_solver_scheduler.h"
#include "core/samplers/euler_schedulers.h"
#include "core/samplers/lms_scheduler.h"
#include "core/samplers/noise.h"
#include "core/samplers/pndm_scheduler.h"
#include "core/util/error.h"

namespace gligen::samplers {

void Scheduler::set_timesteps(int64_t num_inference_steps, const torch::Device& device) {
  if (num_inference_steps < 1) {
    throw Error("the number of inference steps must be at least 1, got " + std::to_string(num_inference_steps));
  }
  if (num_inference_steps > schedule_.num_train_timesteps) {
    throw Error("the number of inference steps (" + std::to_string(num_inference_steps) +
                ") cannot exceed the model's num_train_timesteps (" + std::to_string(schedule_.num_train_timesteps) +
                ")");
  }
  begin_index_ = -1;
  step_index_ = -1;
  num_inference_steps_ = num_inference_steps;
  compute_timesteps(num_inference_steps, device);
  const auto cpu = timesteps_.to(torch::kCPU, torch::kFloat64).contiguous();
  timestep_values_.assign(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
}

torch::Tensor Scheduler::scale_model_input(const torch::Tensor& sample, double timestep) {
  TORCH_CHECK(timesteps_.defined(), name(), ": call set_timesteps before scale_model_input");
  return scale_input_impl(sample, timestep);
}

torch::Tensor Scheduler::scale_model_input(const torch::Tensor& sample, const torch::Tensor& timestep) {
  return scale_model_input(sample, timestep.item<double>());
}

StepOutput Scheduler::step(const torch::Tensor& model_output, double timestep, const torch::Tensor& sample,
                           const StepExtras& extras) {
  TORCH_CHECK(timesteps_.defined(), name(), ": call set_timesteps before step");
  TORCH_CHECK(model_output.defined() && sample.defined(), name(), ": step needs a model output and a sample");
  TORCH_CHECK(model_output.dim() == sample.dim() && model_output.size(0) == sample.size(0), name(), ": model output ",
              model_output.sizes(), " does not match the sample ", sample.sizes());
  return step_impl(model_output, timestep, sample, extras);
}

StepOutput Scheduler::step(const torch::Tensor& model_output, const torch::Tensor& timestep,
                           const torch::Tensor& sample, const StepExtras& extras) {
  return step(model_output, timestep.item<double>(), sample, extras);
}

StepOutput Scheduler::step(const torch::Tensor& model_output, const torch::Tensor& timestep,
                           const torch::Tensor& sample, NoiseGenerator* generator, double eta) {
  StepExtras extras;
  extras.generator = generator;
  extras.eta = eta;
  return step(model_output, timestep.item<double>(), sample, extras);
}

torch::Tensor Scheduler::step_noise(const StepExtras& extras, const torch::Tensor& like) {
  if (extras.noise.defined()) {
    TORCH_CHECK(extras.noise.sizes() == like.sizes(), "step noise ", extras.noise.sizes(),
                " does not match the sample ", like.sizes());
    return extras.noise.to(like.device(), like.scalar_type());
  }
  if (extras.generator) return extras.generator->randn(like.sizes(), like.device(), like.scalar_type());
  return torch::randn(like.sizes(), like.options());
}

int64_t Scheduler::index_for_timestep(double timestep) const {
  int64_t first = -1;
  for (size_t i = 0; i < timestep_values_.size(); ++i) {
    if (timestep_values_[i] != timestep) continue;
    if (first >= 0) return static_cast<int64_t>(i);
    first = static_cast<int64_t>(i);
  }
  return first;
}

void Scheduler::ensure_step_index(double timestep, bool absent_is_last) {
  if (step_index_ >= 0) return;
  if (begin_index_ >= 0) {
    step_index_ = begin_index_;
    return;
  }
  step_index_ = index_for_timestep(timestep);
  if (step_index_ < 0) {
    TORCH_CHECK(absent_is_last, name(), ": timestep ", timestep, " is not one of this schedule's timesteps");
    step_index_ = static_cast<int64_t>(timestep_values_.size()) - 1;
  }
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names{"pndm", "ddim", "euler", "euler-a", "dpm++2m", "lms"};
  return names;
}

std::string scheduler_name_for_class(const std::string& diffusers_class) {
  static const std::vector<std::pair<std::string, std::string>> classes{
      {"PNDMScheduler", "pndm"},
      {"DDIMScheduler", "ddim"},
      {"EulerDiscreteScheduler", "euler"},
      {"EulerAncestralDiscreteScheduler", "euler-a"},
      {"DPMSolverMultistepScheduler", "dpm++2m"},
      {"LMSDiscreteScheduler", "lms"},
  };
  for (const auto& [cls, name] : classes) {
    if (cls == diffusers_class) return name;
  }
  std::string list;
  for (const auto& [cls, name] : classes) list += (list.empty() ? "" : ", ") + cls;
  throw Error("the model's scheduler class \"" + diffusers_class + "\" is not supported (supported: " + list +
              "); pick one of pndm, ddim, euler, euler-a, dpm++2m, lms instead");
}

namespace {

std::unique_ptr<Scheduler> build(const std::string& name, const SchedulerConfig& config) {
  if (name == "pndm") return std::make_unique<PndmScheduler>(config);
  if (name == "ddim") return std::make_unique<DdimScheduler>(config);
  if (name == "euler") return std::make_unique<EulerScheduler>(config);
  if (name == "euler-a") return std::make_unique<EulerAncestralScheduler>(config);
  if (name == "dpm++2m") return std::make_unique<DpmSolverMultistepScheduler>(config);
  if (name == "lms") return std::make_unique<LmsScheduler>(config);
  std::string list;
  for (const auto& n : scheduler_names()) list += (list.empty() ? "" : ", ") + n;
  throw Error("unknown scheduler \"" + name + "\" (choose one of " + list + ")");
}

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerConfig& config) {
  if (name.empty()) return make_default_scheduler(config);
  if (name == "dpm++2m") {
    // DPM-Solver++(2M): the named variant, whatever the model's own DPM-Solver settings were.
    SchedulerConfig c = config;
    c.algorithm_type = "dpmsolver++";
    c.solver_order = 2;
    return build(name, c);
  }
  return build(name, config);
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& config) {
  return make_scheduler(name, scheduler_config_from_json(config));
}

std::unique_ptr<Scheduler> make_default_scheduler(const SchedulerConfig& config) {
  return build(scheduler_name_for_class(config.class_name.empty() ? "PNDMScheduler" : config.class_name), config);
}

}  // namespace gligen::samplers
