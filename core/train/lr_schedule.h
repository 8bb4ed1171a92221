// Learning-rate schedules with the semantics of diffusers' get_scheduler (optimization.py,
// v0.27.2): a multiplier of the base learning rate as a function of the optimizer step count.
// The seed steps the schedule once per optimizer update, so multiplier(k) is the factor used by
// update k + 1 (multiplier(0) for the first one).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gligen::train {

enum class LrScheduleKind { Constant, ConstantWithWarmup, Linear, Cosine, CosineWithRestarts, Polynomial };

// "constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial".
// Throws gligen::Error listing the names for anything else.
LrScheduleKind lr_schedule_from_name(const std::string& name);
std::string lr_schedule_name(LrScheduleKind kind);
const std::vector<std::string>& lr_schedule_names();

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Constant;
  double base_lr = 5e-5;
  int64_t warmup_steps = 0;
  int64_t training_steps = 1;
  // cosine_with_restarts: hard restarts. get_scheduler passes num_cycles only to this schedule;
  // plain cosine keeps its default of half a period (0.5).
  int64_t num_cycles = 1;
  double power = 1.0;    // polynomial
  double lr_end = 1e-7;  // polynomial: the final learning rate (diffusers' default)

  // Throws gligen::Error when the settings are inconsistent (polynomial needs base_lr > lr_end).
  void validate() const;
  double multiplier(int64_t step) const;
  double lr(int64_t step) const { return base_lr * multiplier(step); }
};

}  // namespace gligen::train
