#include "core/nets/vae.h"

#include <filesystem>

#include "core/io/weights.h"
#include "core/util/error.h"

namespace gligen::nets {

torch::Tensor LatentDistribution::sample(std::optional<at::Generator> generator) const {
  torch::NoGradGuard no_grad;
  const auto shape = mean.sizes();
  torch::Tensor eps;
  if (!generator) {
    eps = torch::randn(shape, mean.options());
  } else if (generator->device().is_cpu() && !mean.device().is_cpu()) {
    // diffusers' randn_tensor: a CPU generator draws on the CPU, then the noise moves over, so
    // the numbers do not depend on the device the VAE runs on.
    eps = torch::randn(shape, c10::optional<at::Generator>(*generator), mean.options().device(torch::kCPU))
              .to(mean.device());
  } else {
    eps = torch::randn(shape, c10::optional<at::Generator>(*generator), mean.options());
  }
  return mean + std * eps;  // [B, latent, h, w]
}

AutoencoderKLImpl::AutoencoderKLImpl(const VaeConfig& config) : config_(config) {
  config_.validate();
  const int64_t latent = config_.latent_channels;
  encoder = register_module("encoder", VaeEncoder(config_));
  decoder = register_module("decoder", VaeDecoder(config_));
  quant_conv = register_module("quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * latent, 2 * latent, 1)));
  post_quant_conv = register_module("post_quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(latent, latent, 1)));
}

namespace {

// The VAE's parameters' device and dtype: inputs are moved there (a no-op when they already are).
torch::Tensor to_module(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const auto& w = conv->weight;
  return x.to(w.device(), w.scalar_type());
}

void check_input(const torch::Tensor& x, int64_t channels, const char* what, const char* expected) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != channels)
    throw Error(std::string("VAE ") + what + ": expected " + expected + " with " + std::to_string(channels) +
                " channels, got " + (x.defined() ? c10::str(x.sizes()) : std::string("an undefined tensor")));
}

}  // namespace

LatentDistribution AutoencoderKLImpl::encode(const torch::Tensor& image) {
  check_input(image, config_.in_channels, "encode", "an image batch [B, C, H, W]");
  torch::NoGradGuard no_grad;  // the VAE is frozen: keep no activations for a backward pass
  // image: [B, in_channels, H, W] in [-1, 1]
  auto moments = quant_conv(encoder(to_module(encoder->conv_in, image)));  // [B, 2*latent, h, w]
  auto parts = moments.chunk(2, 1);
  LatentDistribution dist;
  dist.mean = parts[0];                               // [B, latent, h, w]
  dist.logvar = torch::clamp(parts[1], -30.0, 20.0);  // as DiagonalGaussianDistribution
  dist.std = torch::exp(0.5 * dist.logvar);
  return dist;
}

torch::Tensor AutoencoderKLImpl::decode(const torch::Tensor& latents) {
  check_input(latents, config_.latent_channels, "decode", "latents [B, C, h, w]");
  torch::NoGradGuard no_grad;
  // latents: [B, latent, h, w], already divided by scaling_factor
  auto z = post_quant_conv(to_module(post_quant_conv, latents));
  return decoder(z);  // [B, out_channels, h*f, w*f]
}

void convert_legacy_vae_attention_keys(io::StateDict& weights) {
  static const std::pair<const char*, const char*> renames[] = {
      {"query", "to_q"}, {"key", "to_k"}, {"value", "to_v"}, {"proj_attn", "to_out.0"}};
  for (const char* half : {"encoder", "decoder"}) {
    const std::string block = std::string(half) + ".mid_block.attentions.0.";
    for (const auto& [old_name, new_name] : renames) {
      for (const char* kind : {"weight", "bias"}) {
        auto it = weights.find(block + old_name + "." + kind);
        if (it == weights.end()) continue;
        auto tensor = it->second;
        weights.erase(it);
        weights[block + new_name + "." + kind] = tensor;
      }
    }
  }
}

AutoencoderKL load_vae(const std::string& vae_dir, torch::Device device, torch::ScalarType dtype,
                       const std::string& variant, MapAccess mapping) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(vae_dir))
    throw Error("VAE folder " + vae_dir +
                " does not exist: a diffusers pipeline folder has vae/ with "
                "config.json and diffusion_pytorch_model.safetensors");
  if (device.is_cpu() && dtype == torch::kHalf)
    throw Error(
        "the VAE cannot run in float16 on the CPU (LibTorch has no CPU half convolutions): "
        "use float32 on the CPU, or a CUDA device for float16");
  const VaeConfig config = load_vae_config((fs::path(vae_dir) / "config.json").string());
  AutoencoderKL vae(config);
  // safetensors (fp16 variant, sharded) or .bin; load_strict converts to the model dtype.
  io::WeightLoadOptions load;
  load.variant = variant;
  load.mapping = mapping;
  io::StateDict weights = io::load_component_weights(vae_dir, load);
  convert_legacy_vae_attention_keys(weights);
  io::load_strict(*vae, weights, "VAE weights in " + vae_dir, {}, io::WeightSharing::ShareWhenPossible);
  weights.clear();  // drop the (possibly memory-mapped) checkpoint before moving the model
  vae->to(device, dtype);
  vae->eval();
  return vae;
}

}  // namespace gligen::nets
