#include "core/io/state_dict.h"

#include <sstream>

#include "core/util/error.h"

namespace gligen::io {
namespace {

std::string shape_text(c10::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

std::map<std::string, torch::Tensor> module_entries(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.key()] = p.value();
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.key()] = b.value();
  return out;
}

}  // namespace

std::string LoadReport::describe(const std::string& what) const {
  std::ostringstream os;
  os << "the weights do not fit " << what << ":";
  auto list = [&](const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    os << "\n  " << title << " (" << items.size() << "):";
    for (const auto& i : items) os << "\n    " << i;
  };
  list("missing from the checkpoint", missing);
  list("unexpected in the checkpoint", unexpected);
  list("shape mismatch", mismatched);
  os << "\nCheck that the folder holds the model its config describes (a GLIGEN UNet needs "
        "fuser and position_net weights).";
  return os.str();
}

LoadReport check_state_dict(const torch::nn::Module& module, const StateDict& weights,
                            const std::set<std::string>& ignore) {
  LoadReport r;
  auto entries = module_entries(module);
  for (const auto& [name, t] : entries) {
    auto it = weights.find(name);
    if (it == weights.end()) {
      r.missing.push_back(name);
    } else if (it->second.sizes() != t.sizes()) {
      r.mismatched.push_back(name + ": checkpoint " + shape_text(it->second.sizes()) + " vs model " +
                             shape_text(t.sizes()));
    }
  }
  for (const auto& [name, t] : weights) {
    if (!entries.count(name) && !ignore.count(name)) r.unexpected.push_back(name);
  }
  return r;
}

std::size_t load_strict(torch::nn::Module& module, const StateDict& weights, const std::string& what,
                        const std::set<std::string>& ignore, WeightSharing sharing) {
  auto report = check_state_dict(module, weights, ignore);
  if (!report.ok()) throw Error(report.describe(what));
  torch::NoGradGuard no_grad;
  std::size_t shared = 0;
  for (auto& [name, t] : module_entries(module)) {
    const torch::Tensor& w = weights.at(name);
    if (sharing == WeightSharing::ShareWhenPossible && w.scalar_type() == t.scalar_type() && w.device() == t.device() &&
        w.is_contiguous() && !w.requires_grad()) {
      // The module's tensor (the same TensorImpl the module holds) now views w's storage.
      t.set_data(w);
      ++shared;
    } else {
      t.copy_(w);
    }
  }
  return shared;
}

}  // namespace gligen::io
