#include "core/nets/module_tree.h"

namespace gligen::nets {

std::shared_ptr<torch::nn::Module> child_container(torch::nn::Module& parent, const std::string& name) {
  for (const auto& child : parent.named_children()) {
    if (child.key() == name) return child.value();
  }
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

void module_to(torch::nn::Module& module, torch::Device device, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  auto convert = [&](torch::Tensor& t) {
    auto target = t.is_floating_point() ? t.to(device, dtype) : t.to(device);
    if (!target.is_same(t)) t.set_data(target);
  };
  for (auto& p : module.parameters(/*recurse=*/true)) convert(p);
  for (auto& b : module.buffers(/*recurse=*/true)) convert(b);
}

}  // namespace gligen::nets
