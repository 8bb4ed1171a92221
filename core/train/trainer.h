// The GLIGEN training job: what the seed's train_gligen_text.py does, as a library call that
// `gligen-trainer train` (and tests) drive. Single process or one rank of a data-parallel group
// (see core/distributed/process_group.h); rank 0 alone writes the run directory.
//
// Reproducibility: every random draw of a sample (box/caption drops, caption choice, the VAE
// latent sample, the noise and the timestep) comes from a counter-based generator keyed by
// (seed, epoch, position of the sample in the epoch's global order). So the run is the same for
// any number of data workers, a resumed run continues exactly, and N ranks with batch B draw
// exactly what one rank with batch N*B draws.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/pipeline/layout.h"

namespace at {
class Tensor;
}

namespace gligen::train {

struct TrainingConfig {
  std::string pretrained_model;  // diffusers GLIGEN pipeline folder
  std::string unet_override;     // optional UNet folder replacing pretrained_model/unet
  std::string data_path;         // record list (.json)
  std::string image_path;        // image root
  std::string output_dir;        // run directory
  int resolution = 512;
  int train_batch_size = 4;  // per process
  int num_train_epochs = 1;
  std::optional<int64_t> max_train_steps;
  // Ends the run after this step as if it were the last (checkpoint and <output-dir>/unet written)
  // while the learning-rate schedule stays that of max_train_steps; a later run without it (or
  // with a larger one) resumes from there. The shapes recipe ships such a step's UNet.
  std::optional<int64_t> stop_at_step;
  int64_t checkpointing_steps = 500;
  std::optional<int> checkpoints_total_limit;
  std::string resume_from_checkpoint;  // "", "latest" or a checkpoint folder
  double learning_rate = 5e-6;
  bool scale_lr = false;
  std::string lr_scheduler = "constant";
  int64_t lr_warmup_steps = 500;
  int64_t lr_num_cycles = 1;
  double lr_power = 1.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_weight_decay = 1e-2, adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;
  int gradient_accumulation_steps = 1;
  std::string mixed_precision = "no";  // no | fp16 (CUDA) | bf16 (CUDA; CPU autocast with LibTorch 2.x)
  std::uint64_t seed = 0;
  int dataloader_num_workers = 0;
  int64_t validation_steps = 0;  // 0: no validation images
  int validation_inference_steps = 50;
  int validation_images = 4;
  Layout validation_layout;  // prompt, negative prompt, phrases and boxes
  // The grounding check of the validation images (core/detect/grounding_check.h): a Grounding
  // DINO folder; each validation writes a "metric" event grounding_fraction_found.
  std::string grounding_detector;
  double grounding_iou = 0.5;
  // The shapes grounding metric (core/train/shapes_validation.h): a gligen-layout-set file from
  // make-shapes-dataset --heldout-layouts; each validation generates its first
  // `shapes_heldout_count` layouts with the current UNet and writes a "metric" event
  // shapes_hit_rate (fraction of boxes whose colour's object has IoU >= shapes_iou) with
  // shapes_boxes (how many boxes were checked).
  std::string shapes_heldout;
  int shapes_heldout_count = 32;
  double shapes_iou = 0.5;
  // What trains: "grounding" (fusers + position_net, the recipe) or "unet" (every UNet parameter).
  std::string trainable = "grounding";
  bool reset_grounding_params = true;
  bool embed_with_model = false;
  // Encode every image with the frozen VAE once before training and draw each step's latents from
  // the stored latent distributions (mean, std) instead of re-encoding: the same formula, a
  // fraction of the step time when the VAE encoder costs as much as the UNet (small models).
  bool cache_latents = false;
  std::string device = "cpu";
  int max_boxes = 30;
  double min_box_size = 0.01;
  double prob_drop_boxes = 0.1;
  double prob_drop_captions = 0.5;
  // Which timesteps training draws more often (diffusers' --timestep_bias_* of its SD training
  // scripts): "none" (uniform), "later" (the last `portion` of the timesteps, the noisiest, where
  // the layout of an image is decided and only the boxes can say where things go), "earlier" (the
  // first `portion`) or "range" ([begin, end)). Those timesteps weigh `multiplier` times the others.
  std::string timestep_bias_strategy = "none";
  double timestep_bias_multiplier = 1.0;
  double timestep_bias_portion = 0.25;
  int64_t timestep_bias_begin = 0, timestep_bias_end = 1000;

  // Checks every value; throws gligen::Error naming the flag (--dashed-name) and the rule.
  void validate() const;
  nlohmann::json to_json() const;
};

// The draw weights of the training timesteps under `config`'s --timestep-bias-* (they sum to 1;
// the biased ones weigh `timestep_bias_multiplier` times the others), or an undefined tensor for
// "none" (uniform draws). Throws gligen::Error for a range past `num_train_timesteps`.
at::Tensor timestep_weights(const TrainingConfig& config, int64_t num_train_timesteps);

// The seed's validation prompt, negative prompt, four phrases and boxes (beta 1.0, euler).
Layout seed_validation_layout();

struct TrainingProgress {
  int64_t step = 0, max_steps = 0;
  int64_t epoch = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  double samples_per_second = 0, step_seconds = 0, data_wait_seconds = 0, eta_seconds = 0;
  double memory_mb = 0;
};

struct TrainingCallbacks {
  std::function<void(const TrainingProgress&)> progress;                 // every optimizer step (all ranks)
  std::function<void(const std::string&)> log;                           // human lines
  std::function<void(const std::string&, const nlohmann::json&)> event;  // rank 0's events, as written
  std::function<bool()> stop_requested;                                  // polled after each step
  // Tests: called after a checkpoint's files are written (before pruning).
  std::function<void(const std::string&)> checkpoint_written;
};

struct TrainingSummary {
  int64_t steps_done = 0;  // optimizer steps in this invocation
  int64_t global_step = 0;
  bool stopped_early = false;  // stop_requested ended the run (after a checkpoint)
  std::string final_unet_dir;  // "" unless training finished
  std::string last_checkpoint;
  std::vector<double> losses;  // per optimizer step, mean over ranks
  int64_t skipped_images = 0;
  double total_data_wait_seconds = 0;
  double samples_per_second = 0;
};

// Runs the job. Reads the launch environment (RANK, WORLD_SIZE, ...) and joins the process
// group when WORLD_SIZE > 1. Throws gligen::Error for user-caused problems (also written as an
// "error" event when the run directory exists).
TrainingSummary run_training(const TrainingConfig& config, const TrainingCallbacks& callbacks = {});

}  // namespace gligen::train
