#include "core/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace gligen::train {
namespace {

const std::vector<std::pair<std::string, LrScheduleKind>>& table() {
  static const std::vector<std::pair<std::string, LrScheduleKind>> t = {
      {"constant", LrScheduleKind::Constant},
      {"constant_with_warmup", LrScheduleKind::ConstantWithWarmup},
      {"linear", LrScheduleKind::Linear},
      {"cosine", LrScheduleKind::Cosine},
      {"cosine_with_restarts", LrScheduleKind::CosineWithRestarts},
      {"polynomial", LrScheduleKind::Polynomial}};
  return t;
}

}  // namespace

const std::vector<std::string>& lr_schedule_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, kind] : table()) n.push_back(name);
    return n;
  }();
  return names;
}

LrScheduleKind lr_schedule_from_name(const std::string& name) {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  for (const auto& [n, kind] : table())
    if (n == key) return kind;
  std::string all;
  for (const auto& n : lr_schedule_names()) all += (all.empty() ? "" : ", ") + n;
  throw Error("unknown learning-rate schedule '" + name + "' (choose one of " + all + ")");
}

std::string lr_schedule_name(LrScheduleKind kind) {
  for (const auto& [n, k] : table())
    if (k == kind) return n;
  return "?";
}

void LrSchedule::validate() const {
  if (!(base_lr > 0) || !std::isfinite(base_lr)) throw Error("the learning rate must be a positive number");
  if (warmup_steps < 0) throw Error("the warm-up steps must be >= 0");
  if (training_steps < 1) throw Error("the number of training steps must be >= 1");
  if (num_cycles < 1) throw Error("the number of lr cycles must be >= 1");
  if (kind == LrScheduleKind::Polynomial && !(base_lr > lr_end)) {
    throw Error("the polynomial schedule decays to " + std::to_string(lr_end) +
                ", so the learning rate must be larger than that");
  }
}

double LrSchedule::multiplier(int64_t step) const {
  const double s = static_cast<double>(step);
  auto warm = [&] { return s / static_cast<double>(std::max<int64_t>(1, warmup_steps)); };
  switch (kind) {
    case LrScheduleKind::Constant: return 1.0;
    case LrScheduleKind::ConstantWithWarmup: return step < warmup_steps ? warm() : 1.0;
    case LrScheduleKind::Linear:
      if (step < warmup_steps) return warm();
      return std::max(0.0, static_cast<double>(training_steps - step) /
                               static_cast<double>(std::max<int64_t>(1, training_steps - warmup_steps)));
    case LrScheduleKind::Cosine: {
      if (step < warmup_steps) return warm();
      const double progress = static_cast<double>(step - warmup_steps) /
                              static_cast<double>(std::max<int64_t>(1, training_steps - warmup_steps));
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
    }
    case LrScheduleKind::CosineWithRestarts: {
      if (step < warmup_steps) return warm();
      const double progress = static_cast<double>(step - warmup_steps) /
                              static_cast<double>(std::max<int64_t>(1, training_steps - warmup_steps));
      if (progress >= 1.0) return 0.0;
      // Python's % on floats: the result takes the divisor's sign (here positive).
      double phase = std::fmod(static_cast<double>(num_cycles) * progress, 1.0);
      if (phase < 0) phase += 1.0;
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * phase)));
    }
    case LrScheduleKind::Polynomial: {
      if (step < warmup_steps) return warm();
      if (step > training_steps) return lr_end / base_lr;
      const double range = base_lr - lr_end;
      const double decay_steps = static_cast<double>(training_steps - warmup_steps);
      if (decay_steps <= 0) return lr_end / base_lr;  // (Python would divide by zero here)
      const double remaining = 1.0 - static_cast<double>(step - warmup_steps) / decay_steps;
      return (range * std::pow(remaining, power) + lr_end) / base_lr;
    }
  }
  return 1.0;
}

}  // namespace gligen::train
