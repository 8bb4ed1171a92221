// diffusers' AutoencoderKL (v0.27.2), the Stable Diffusion VAE: encode images in [-1, 1] to a
// diagonal Gaussian over latents, decode latents to images. Modules are registered under the
// diffusers attribute names (encoder.down_blocks.0.resnets.1.conv2.weight, quant_conv.bias, ...),
// so checkpoint keys equal named_parameters() keys.
//
// The VAE is frozen everywhere this engine uses it (generation, inpainting, GLIGEN training), so
// encode() and decode() run without autograd: no activations are kept for a backward pass, which
// keeps a 512x512 decode (4096-token mid-block attention) practical on a CPU.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>

#include "core/io/state_dict.h"
#include "core/nets/vae_blocks.h"
#include "core/nets/vae_config.h"
#include "core/util/mapped_file.h"

namespace gligen::nets {

// diffusers' DiagonalGaussianDistribution, as encode() returns it.
struct LatentDistribution {
  torch::Tensor mean;    // [B, latent_channels, h, w]
  torch::Tensor logvar;  // clamped to [-30, 20]
  torch::Tensor std;     // exp(0.5 * logvar)

  // mean + std * eps with eps ~ N(0, 1) of mean's shape and dtype, drawn as diffusers' randn_tensor
  // does: from `generator` on the generator's device when it is a CPU generator (then moved to
  // mean's device), else on mean's device; from the default generator when none is given. So a
  // CPU generator seeded like torch.Generator("cpu").manual_seed(s) reproduces diffusers' draw.
  torch::Tensor sample(std::optional<at::Generator> generator = std::nullopt) const;
};

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(const VaeConfig& config);

  // image: [B, in_channels, H, W] in [-1, 1], H and W multiples of downscale_factor().
  LatentDistribution encode(const torch::Tensor& image);
  // latents: [B, latent_channels, h, w], already divided by scaling_factor (as diffusers' decode)
  // -> image [B, out_channels, h * f, w * f], nominally in [-1, 1] (not clamped).
  torch::Tensor decode(const torch::Tensor& latents);

  const VaeConfig& config() const { return config_; }
  double scaling_factor() const { return config_.scaling_factor; }

  VaeEncoder encoder{nullptr};
  VaeDecoder decoder{nullptr};
  torch::nn::Conv2d quant_conv{nullptr};       // 2*latent -> 2*latent, 1x1: moments
  torch::nn::Conv2d post_quant_conv{nullptr};  // latent -> latent, 1x1

 private:
  VaeConfig config_;
};
TORCH_MODULE(AutoencoderKL);

// Renames the pre-0.14 diffusers attention keys of the mid-block attentions (query, key, value,
// proj_attn -> to_q, to_k, to_v, to_out.0), as diffusers does when it loads such checkpoints.
// Keys already in the current naming are left alone.
void convert_legacy_vae_attention_keys(io::StateDict& weights);

// Loads <vae_dir>/config.json and the weights in <vae_dir> (io::load_component_weights: safetensors,
// the `variant` or fp16 file, sharded, or .bin) strictly, onto `device` in `dtype` (float16 belongs
// on CUDA). Throws gligen::Error naming the folder and what is wrong.
// `mapping`: how the weight files are mapped (ReadOnly lets io::release_mapped_weights drop them).
AutoencoderKL load_vae(const std::string& vae_dir, torch::Device device = torch::kCPU,
                       torch::ScalarType dtype = torch::kFloat32, const std::string& variant = "",
                       MapAccess mapping = MapAccess::CopyOnWrite);

}  // namespace gligen::nets
