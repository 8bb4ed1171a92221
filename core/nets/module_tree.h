// Module-tree helpers. Registering a submodule under a dotted checkpoint path ("attention.output.dense") whose middle
// levels are plain containers in the reference implementation. LibTorch names cannot contain
// dots, so the missing levels are created as empty torch::nn::Module containers; the typed
// module is returned for direct use.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

namespace gligen::nets {

// The child `name` of `parent`, created as an empty container when absent.
std::shared_ptr<torch::nn::Module> child_container(torch::nn::Module& parent, const std::string& name);

// Registers `module` at `path` (dot-separated, relative to `root`) and returns it.
template <typename ModuleHolder>
ModuleHolder register_at(torch::nn::Module& root, const std::string& path, ModuleHolder module) {
  torch::nn::Module* parent = &root;
  std::string rest = path;
  for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
    parent = child_container(*parent, rest.substr(0, dot)).get();
    rest = rest.substr(dot + 1);
  }
  return parent->register_module(rest, module);
}

// Moves every parameter and buffer of `module` to `device` and converts the floating-point ones
// to `dtype`; integer buffers (index tables) keep their type, as PyTorch's Module.to(dtype) does.
// (LibTorch's Module::to(device, dtype) would convert them too.)
void module_to(torch::nn::Module& module, torch::Device device, torch::ScalarType dtype);

}  // namespace gligen::nets
