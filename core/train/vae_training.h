// Training a diffusers AutoencoderKL (the Stable Diffusion VAE layout) on a folder of images, the
// first stage of a model trained from scratch (the shapes demo: init-model --preset shapes-tiny,
// make-shapes-dataset, train-vae, train --trainable unet).
//
// Loss per image: mean |x - decode(z)| over pixels plus kl_weight x the KL divergence of the
// encoder's Gaussian from N(0, 1), summed over latent values and divided by the pixel count (the
// ratio of the two terms is that of the Stable Diffusion autoencoder's recipe without its
// perceptual and adversarial terms, which flat synthetic images do not need).
// When training ends, the latent scale is measured as Stable Diffusion's was: scaling_factor =
// 1 / std of latent samples of the first `scale_images` training images; it goes into the saved
// config.json so the UNet trains on unit-variance latents.
//
// Same run directory as `train` (run.json, events.jsonl with progress/metric/checkpoint/done,
// log.txt, checkpoints/), crash-safe checkpoints, exact resume: sample k of the run is image
// perm(epoch)[k mod N] and its latent noise is keyed by (seed, k), so a resumed run draws what
// an uninterrupted one does. Held-out images (the last `holdout_images` of the sorted list) are
// never trained on; each checkpoint writes their reconstruction PSNR as metric vae_psnr_db.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gligen::train {

struct VaeTrainingConfig {
  std::string vae_dir;     // starting VAE folder (config.json + weights), e.g. <model>/vae
  std::string image_dir;   // images (.png, .jpg, .jpeg, .bmp), searched recursively
  std::string output_dir;  // run directory; the trained VAE goes to <output_dir>/vae
  int resolution = 64;     // images are centre-cropped and resized to this square size
  int batch_size = 32;
  int64_t max_steps = 2000;
  double learning_rate = 1e-3;
  std::string lr_scheduler = "cosine";
  int64_t lr_warmup_steps = 100;
  double adam_weight_decay = 0.0;
  double max_grad_norm = 1.0;
  double kl_weight = 1e-6;
  int64_t checkpointing_steps = 250;
  std::optional<int> checkpoints_total_limit;
  std::string resume_from_checkpoint;  // "", "latest" or a checkpoint folder
  std::uint64_t seed = 0;
  int holdout_images = 64;
  int scale_images = 256;
  std::string device = "cpu";

  void validate() const;  // throws gligen::Error naming the --flag
  nlohmann::json to_json() const;
};

struct VaeTrainingCallbacks {
  std::function<void(int64_t step, int64_t max_steps)> progress;
  std::function<void(const std::string&)> log;
  std::function<void(const std::string&, const nlohmann::json&)> event;  // as written to events.jsonl
  std::function<bool()> stop_requested;                                  // polled after each step
};

struct VaeTrainingSummary {
  int64_t global_step = 0;
  int64_t steps_done = 0;
  bool stopped_early = false;
  std::string final_vae_dir;  // "" unless training finished
  std::string last_checkpoint;
  std::vector<double> losses;
  double scaling_factor = 0;   // written into the final config.json
  double holdout_psnr_db = 0;  // of the final VAE (0 when there is no held-out image)
};

// The images of `dir` (sorted paths), as train-vae reads them. Throws gligen::Error when the
// folder is missing or holds no image.
std::vector<std::string> list_training_images(const std::string& dir);

VaeTrainingSummary run_vae_training(const VaeTrainingConfig& config, const VaeTrainingCallbacks& callbacks = {});

}  // namespace gligen::train
