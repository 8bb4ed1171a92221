// One step of the GLIGEN training recipe (the seed's train_gligen_text.py loop body):
//   latents = vae.encode(pixel_values).latent_dist.sample() * scaling_factor
//   noisy   = DDPM add_noise(latents, noise, timesteps)
//   ehs     = text_encoder(input_ids)[0]                  (no attention mask)
//   pred    = unet(noisy, timesteps, ehs, gligen={boxes, positive_embeddings, masks})
//   loss    = mse(pred, noise | velocity), mean
// What trains (TrainableSet): the grounding layers only, the recipe's rule (parameters whose name
// contains "fuser" or "position_net"; the rest of the UNet is frozen), or every UNet parameter
// (a GLIGEN UNet trained from scratch, as for the shapes model). The VAE and text encoder stay
// frozen either way.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "core/nets/clip_text.h"
#include "core/nets/unet.h"
#include "core/nets/vae.h"
#include "core/samplers/ddpm_noise_schedule.h"

namespace gligen::train {

struct TrainingModels {
  nets::UNet2DCondition unet{nullptr};
  nets::AutoencoderKL vae{nullptr};
  nets::CLIPTextModel text_encoder{nullptr};
  std::shared_ptr<samplers::DdpmNoiseSchedule> noise_schedule;
  std::string unet_config_path;  // the config.json the UNet came from (copied into saved UNets)
  // The trainable parameters (name, tensor) in named_parameters() order.
  std::vector<std::pair<std::string, torch::Tensor>> trainable;

  std::vector<torch::Tensor> trainable_tensors() const;
  int64_t trainable_count() const;  // number of values
};

enum class TrainableSet { Grounding, Unet };
// "grounding" | "unet"; throws gligen::Error naming --trainable for anything else.
TrainableSet trainable_set_from_name(const std::string& name);
const char* trainable_set_name(TrainableSet set);

// True for names the recipe trains ("fuser" or "position_net" anywhere in the name).
bool is_grounding_parameter(const std::string& name);

// Loads unet/ (or `unet_override`), vae/, text_encoder/ and scheduler/ of a diffusers GLIGEN
// folder. The UNet is float32 and in train mode; the VAE and text encoder are frozen in
// `frozen_dtype`. Marks the parameters of `trainable` (requires_grad) and freezes everything else.
// Throws gligen::Error when the UNet has no GLIGEN layers.
TrainingModels load_training_models(const std::string& model_dir, const std::string& unet_override,
                                    torch::Device device, torch::ScalarType frozen_dtype = torch::kFloat32,
                                    TrainableSet trainable = TrainableSet::Grounding);

// The seed re-initialises every Linear and LayerNorm inside fuser / position_net modules before
// training (PyTorch's default initialisation); this does the same from torch's default generator,
// which the caller seeds. The gates (alpha_attn, alpha_dense) and null features keep their values.
// Returns the number of modules reset.
int reset_grounding_parameters(nets::UNet2DConditionImpl& unet);

struct StepInputs {
  torch::Tensor pixel_values;  // [B, 3, H, W] in [-1, 1]
  // Optional, instead of pixel_values: the VAE's latent distribution of each image (a latent
  // cache), [B, C, h, w] each, unscaled; latents = (mean + std * vae_noise) * scaling_factor.
  torch::Tensor latent_mean, latent_std;
  torch::Tensor input_ids;        // [B, 77] int64
  torch::Tensor boxes;            // [B, N, 4]
  torch::Tensor masks;            // [B, N]
  torch::Tensor text_embeddings;  // [B, N, D]
  torch::Tensor vae_noise;        // [B, C, h, w] N(0, 1): the latent_dist.sample() draw
  torch::Tensor noise;            // [B, C, h, w] N(0, 1)
  torch::Tensor timesteps;        // [B] int64
};

struct StepOutputs {
  torch::Tensor latents, noisy_latents, encoder_hidden_states, model_pred, target;
  torch::Tensor loss;  // scalar float32, attached to the graph of the trainable parameters
};

// The forward pass and loss (no backward). Frozen parts run without autograd.
StepOutputs training_forward(TrainingModels& models, const StepInputs& inputs);

// The VAE's latent distribution (mean, std; unscaled) of `pixel_values` [B, 3, H, W] in [-1, 1],
// without autograd: what training_forward samples from, for a latent cache.
std::pair<torch::Tensor, torch::Tensor> encode_latent_distribution(TrainingModels& models,
                                                                   const torch::Tensor& pixel_values);

// Shape of one sample's latents for images of `image_size`: [latent_channels, s/f, s/f].
std::vector<int64_t> latent_shape(const TrainingModels& models, int64_t image_size);

}  // namespace gligen::train
