// Seeded Gaussian noise that reproduces PyTorch's CPU generator bit for bit:
// NoiseGenerator(seed).randn(shape) equals
// torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed)) on the same PyTorch
// version (LibTorch 1.13 here, as the reference fixtures), and consecutive draws continue the same
// stream. As diffusers' randn_tensor does for a CPU generator, the draw is made on the CPU and then
// moved to the target device, so a CUDA run starts from the same latents as a CPU run.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace gligen::samplers {

class NoiseGenerator {
 public:
  explicit NoiseGenerator(std::uint64_t seed);

  // N(0, 1) samples of `shape`, drawn on the CPU in `dtype`, then moved to `device`.
  torch::Tensor randn(c10::IntArrayRef shape, const torch::Device& device = torch::kCPU,
                      torch::ScalarType dtype = torch::kFloat32);

  std::uint64_t seed() const { return seed_; }
  // The underlying generator (a CPU at::Generator), for torch calls that take one.
  at::Generator& generator() { return generator_; }

 private:
  std::uint64_t seed_;
  at::Generator generator_;
};

// diffusers' randn_tensor with a list of generators: sample b of the batch is drawn from
// generators[b] with shape [1, shape[1:]...], and the draws are concatenated. shape[0] must equal
// generators.size().
torch::Tensor randn_per_sample(c10::IntArrayRef shape, std::vector<NoiseGenerator>& generators,
                               const torch::Device& device = torch::kCPU, torch::ScalarType dtype = torch::kFloat32);

}  // namespace gligen::samplers
