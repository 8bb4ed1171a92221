#include "core/samplers/noise.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace gligen::samplers {

NoiseGenerator::NoiseGenerator(std::uint64_t seed) : seed_(seed), generator_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor NoiseGenerator::randn(c10::IntArrayRef shape, const torch::Device& device, torch::ScalarType dtype) {
  // torch.randn(shape, generator=g): at::randn is empty() + normal_(0, 1, g), locking g itself.
  torch::Tensor draw = torch::randn(shape, generator_, torch::TensorOptions().dtype(dtype).device(torch::kCPU));
  return device.is_cpu() ? draw : draw.to(device);
}

torch::Tensor randn_per_sample(c10::IntArrayRef shape, std::vector<NoiseGenerator>& generators,
                               const torch::Device& device, torch::ScalarType dtype) {
  TORCH_CHECK(!shape.empty() && shape[0] == static_cast<int64_t>(generators.size()),
              "randn_per_sample: the batch size must equal the number of generators");
  std::vector<int64_t> one(shape.begin(), shape.end());
  one[0] = 1;
  std::vector<torch::Tensor> draws;
  for (auto& g : generators) draws.push_back(g.randn(one, device, dtype));
  return torch::cat(draws, 0);
}

}  // namespace gligen::samplers
