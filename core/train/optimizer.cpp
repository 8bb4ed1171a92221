#include "core/train/optimizer.h"

#include <cmath>

#include "core/util/error.h"

namespace gligen::train {

AdamW::AdamW(std::vector<torch::Tensor> params, AdamWOptions options)
    : params_(std::move(params)), options_(options), steps_(params_.size(), 0.0) {
  for (const auto& p : params_) {
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  const double b1 = options_.beta1, b2 = options_.beta2;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    const auto& g = p.grad();
    if (!g.defined()) continue;
    steps_[i] += 1.0;
    // Decoupled weight decay, then the moment updates, as torch/optim/adamw.py (_single_tensor_adamw).
    p.mul_(1.0 - lr * options_.weight_decay);
    exp_avg_[i].mul_(b1).add_(g, 1.0 - b1);
    exp_avg_sq_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
    const double bias_correction1 = 1.0 - std::pow(b1, steps_[i]);
    const double bias_correction2 = 1.0 - std::pow(b2, steps_[i]);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    auto denom = (exp_avg_sq_[i].sqrt() / bias_correction2_sqrt).add_(options_.eps);
    p.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

void AdamW::zero_grad(bool set_to_none) {
  for (auto& p : params_) {
    if (!p.grad().defined()) continue;
    if (set_to_none) {
      p.mutable_grad() = torch::Tensor();
    } else {
      p.mutable_grad().detach_();
      p.mutable_grad().zero_();
    }
  }
}

io::StateDict AdamW::state_dict() const {
  io::StateDict s;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string k = std::to_string(i);
    s["exp_avg." + k] = exp_avg_[i];
    s["exp_avg_sq." + k] = exp_avg_sq_[i];
    s["step." + k] = torch::tensor(static_cast<float>(steps_[i]));
  }
  return s;
}

void AdamW::load_state_dict(const io::StateDict& state) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string k = std::to_string(i);
    auto a = state.find("exp_avg." + k), b = state.find("exp_avg_sq." + k), s = state.find("step." + k);
    if (a == state.end() || b == state.end() || s == state.end()) {
      throw Error("the optimizer state lacks the entries of parameter " + k + " (it was saved for another model)");
    }
    if (a->second.sizes() != params_[i].sizes() || b->second.sizes() != params_[i].sizes()) {
      throw Error("the optimizer state of parameter " + k + " has another shape than the model's");
    }
    exp_avg_[i].copy_(a->second);
    exp_avg_sq_[i].copy_(b->second);
    steps_[i] = s->second.item<double>();
  }
  if (state.size() != params_.size() * 3) {
    throw Error("the optimizer state holds " + std::to_string(state.size() / 3) + " parameters, the model trains " +
                std::to_string(params_.size()));
  }
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(torch::norm(p.grad().detach(), 2));
  if (norms.empty()) return 0.0;
  const auto total = torch::norm(torch::stack(norms), 2);
  // Python evaluates max_norm / tensor as tensor.reciprocal() * max_norm (Tensor.__rdiv__).
  const auto coef = torch::clamp((total + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
  for (const auto& p : params)
    if (p.grad().defined()) p.grad().detach().mul_(coef);
  return total.item<double>();
}

}  // namespace gligen::train
