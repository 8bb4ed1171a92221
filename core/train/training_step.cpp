#include "core/train/training_step.h"

#include <filesystem>

#include "core/util/error.h"

namespace gligen::train {

namespace fs = std::filesystem;

TrainableSet trainable_set_from_name(const std::string& name) {
  if (name == "grounding") return TrainableSet::Grounding;
  if (name == "unet") return TrainableSet::Unet;
  throw Error(
      "--trainable must be grounding (the fusers and position net, the GLIGEN recipe) or unet (every UNet "
      "parameter, e.g. a model trained from scratch), got '" +
      name + "'");
}

const char* trainable_set_name(TrainableSet set) { return set == TrainableSet::Unet ? "unet" : "grounding"; }

bool is_grounding_parameter(const std::string& name) {
  return name.find("fuser") != std::string::npos || name.find("position_net") != std::string::npos;
}

std::vector<torch::Tensor> TrainingModels::trainable_tensors() const {
  std::vector<torch::Tensor> out;
  for (const auto& [n, t] : trainable) out.push_back(t);
  return out;
}

int64_t TrainingModels::trainable_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : trainable) n += t.numel();
  return n;
}

TrainingModels load_training_models(const std::string& model_dir, const std::string& unet_override,
                                    torch::Device device, torch::ScalarType frozen_dtype, TrainableSet trainable) {
  const fs::path root(model_dir);
  if (!fs::is_directory(root)) {
    throw Error("--pretrained-model '" + model_dir + "' is not a folder (give a diffusers GLIGEN pipeline folder)");
  }
  TrainingModels m;
  const std::string unet_dir = unet_override.empty() ? (root / "unet").string() : unet_override;
  m.unet_config_path = (fs::path(unet_dir) / "config.json").string();
  // The trained UNet stays float32 even under mixed precision (the seed's rule).
  m.unet = nets::load_unet(unet_dir, device, torch::kFloat32);
  if (!m.unet->is_gated()) {
    throw Error("the UNet in '" + unet_dir +
                "' has no GLIGEN layers (attention_type is not \"gated\"); training needs a GLIGEN text-box UNet");
  }
  m.vae = nets::load_vae((root / "vae").string(), device, frozen_dtype);
  m.text_encoder = nets::load_clip_text_model((root / "text_encoder").string(), device, frozen_dtype);
  m.noise_schedule = std::make_shared<samplers::DdpmNoiseSchedule>(
      samplers::load_scheduler_config((root / "scheduler" / "scheduler_config.json").string()));
  if (m.noise_schedule->prediction_type() == "sample") {
    throw Error("the scheduler's prediction_type is \"sample\"; the GLIGEN recipe trains epsilon or v_prediction");
  }
  for (auto& p : m.vae->parameters()) p.set_requires_grad(false);
  for (auto& p : m.text_encoder->parameters()) p.set_requires_grad(false);
  for (auto& item : m.unet->named_parameters()) {
    const bool train = trainable == TrainableSet::Unet || is_grounding_parameter(item.key());
    item.value().set_requires_grad(train);
    if (train) m.trainable.emplace_back(item.key(), item.value());
  }
  m.unet->train();
  m.vae->eval();
  m.text_encoder->eval();
  return m;
}

int reset_grounding_parameters(nets::UNet2DConditionImpl& unet) {
  torch::NoGradGuard no_grad;
  int count = 0;
  for (auto& item : unet.named_modules("", /*include_self=*/false)) {
    if (!is_grounding_parameter(item.key())) continue;
    if (auto* lin = item.value()->as<torch::nn::LinearImpl>()) {
      lin->reset_parameters();
      ++count;
    } else if (auto* ln = item.value()->as<torch::nn::LayerNormImpl>()) {
      ln->reset_parameters();
      ++count;
    }
  }
  return count;
}

std::vector<int64_t> latent_shape(const TrainingModels& models, int64_t image_size) {
  const auto& c = models.vae->config();
  const int64_t f = c.downscale_factor();
  if (image_size % f != 0) {
    throw Error("the resolution " + std::to_string(image_size) + " is not a multiple of the VAE's downscale factor " +
                std::to_string(f));
  }
  return {c.latent_channels, image_size / f, image_size / f};
}

std::pair<torch::Tensor, torch::Tensor> encode_latent_distribution(TrainingModels& models,
                                                                   const torch::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  const auto device = models.unet->conv_in->weight.device();
  const auto frozen_dtype = models.vae->quant_conv->weight.scalar_type();
  auto dist = models.vae->encode(pixel_values.to(device, frozen_dtype));
  return {dist.mean, dist.std};
}

StepOutputs training_forward(TrainingModels& models, const StepInputs& in) {
  StepOutputs out;
  const auto device = models.unet->conv_in->weight.device();
  const auto frozen_dtype = models.vae->quant_conv->weight.scalar_type();
  {
    torch::NoGradGuard no_grad;
    // latent_dist.sample() with the given draw: mean + std * eps, then scaled.
    torch::Tensor mean, std;
    if (in.latent_mean.defined()) {
      mean = in.latent_mean.to(device, frozen_dtype);
      std = in.latent_std.to(device, frozen_dtype);
    } else {
      auto dist = models.vae->encode(in.pixel_values.to(device, frozen_dtype));
      mean = dist.mean;
      std = dist.std;
    }
    out.latents = (mean + std * in.vae_noise.to(device, frozen_dtype)) * models.vae->scaling_factor();
    const auto noise = in.noise.to(device, out.latents.scalar_type());
    const auto t = in.timesteps.to(device);
    out.noisy_latents = models.noise_schedule->add_noise(out.latents, noise, t);
    out.encoder_hidden_states = models.text_encoder->forward(in.input_ids.to(device)).last_hidden_state;
    out.target = models.noise_schedule->prediction_type() == "v_prediction"
                     ? models.noise_schedule->velocity(out.latents, noise, t)
                     : noise;
  }
  nets::GroundingInputs g;
  g.boxes = in.boxes.to(device, torch::kFloat32);
  g.positive_embeddings = in.text_embeddings.to(device, torch::kFloat32);
  g.masks = in.masks.to(device, torch::kFloat32);
  // Under mixed precision the UNet runs in float32 weights with autocast doing the casts (CUDA).
  out.model_pred = models.unet->forward(out.noisy_latents.to(torch::kFloat32), in.timesteps.to(device),
                                        out.encoder_hidden_states.to(torch::kFloat32), &g);
  out.loss = torch::mse_loss(out.model_pred.to(torch::kFloat32), out.target.to(torch::kFloat32));
  return out;
}

}  // namespace gligen::train
