// `gligen-trainer train-vae`: train a diffusers AutoencoderKL on a folder of images (the first stage
// of a model trained from scratch), with the run directory, checkpoints and resume of `train`.
#include <filesystem>
#include <iostream>
#include <limits>

#include "core/io/cpu_runtime.h"
#include "core/train/vae_training.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

cli::Parser make_parser() {
  cli::Parser p(
      "gligen-trainer train-vae",
      "Train a VAE (diffusers AutoencoderKL) on a folder of images: L1 reconstruction plus a small KL term.\n"
      "Starts from --vae (or --pretrained-model's vae/), e.g. the random VAE of init-model --preset shapes-tiny.\n"
      "The run directory gets run.json, events.jsonl (loss; vae_psnr_db of held-out images at each\n"
      "checkpoint), log.txt and checkpoints/; the trained VAE goes to <output-dir>/vae with the latent\n"
      "scaling_factor measured on the training images. SIGINT/SIGTERM: a checkpoint is written and the run\n"
      "ends cleanly (resume with --resume-from-checkpoint latest).",
      "gligen-trainer train-vae (--vae DIR | --pretrained-model DIR) --image-dir DIR --output-dir DIR [options]");
  p.flag({"vae", "DIR", "VAE folder to start from (config.json + weights)", ""})
      .flag({"pretrained-model", "DIR", "diffusers pipeline folder whose vae/ to start from", ""})
      .flag({"image-dir", "DIR", "training images (.png/.jpg/.bmp, searched recursively, sorted by path)", ""})
      .flag({"output-dir", "DIR", "run directory", ""})
      .flag({"resolution", "N", "image size (centre crop and resize when an image differs)", "64"})
      .flag({"train-batch-size", "N", "images per step", "32"})
      .flag({"max-train-steps", "N", "optimizer steps", "2000"})
      .flag({"learning-rate", "F", "peak learning rate", "1e-3"})
      .flag({"lr-scheduler", "NAME", "constant, constant_with_warmup, linear, cosine, cosine_with_restarts, polynomial",
             "cosine"})
      .flag({"lr-warmup-steps", "N", "warm-up steps", "100"})
      .flag({"adam-weight-decay", "F", "AdamW weight decay", "0"})
      .flag({"max-grad-norm", "F", "gradient clipping norm", "1.0"})
      .flag({"kl-weight", "F", "weight of the KL term (per pixel, relative to the L1 term)", "1e-6"})
      .flag({"checkpointing-steps", "N", "write a checkpoint (and measure held-out PSNR) every N steps", "250"})
      .flag({"checkpoints-total-limit", "N", "keep at most N checkpoints", "all"})
      .flag({"resume-from-checkpoint", "latest|DIR", "continue from the newest complete checkpoint or a given one", ""})
      .flag({"seed", "N", "seed of the data order and the latent noise", "0"})
      .flag({"holdout-images", "N", "the last N images are never trained on; their PSNR is measured", "64"})
      .flag({"scale-images", "N", "images whose latents set scaling_factor", "256"})
      .flag({"device", "DEV", "cpu, cuda or cuda:N", "cpu"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"events", "", "print the run's events as JSON lines on stdout instead of a progress bar", ""});
  return p;
}

int run_train_vae(const std::vector<std::string>& argv) {
  auto parsed = make_parser().parse(argv);
  if (!parsed) return 0;
  const cli::Args& a = *parsed;
  if (!a.positional().empty()) throw Error("unexpected argument '" + a.positional()[0] + "'");
  train::VaeTrainingConfig c;
  if (a.has("vae") && a.has("pretrained-model")) throw Error("give --vae or --pretrained-model, not both");
  c.vae_dir = a.has("vae") ? a.get_string("vae", "")
                           : (a.has("pretrained-model") ? a.get_string("pretrained-model", "") + "/vae" : "");
  c.image_dir = a.get_string("image-dir", "");
  c.output_dir = a.get_string("output-dir", "");
  c.resolution = static_cast<int>(a.get_int("resolution", 64, 8, 4096));
  c.batch_size = static_cast<int>(a.get_int("train-batch-size", 32, 1, 4096));
  c.max_steps = a.get_int("max-train-steps", 2000, 1, 1LL << 40);
  c.learning_rate = a.get_double("learning-rate", 1e-3, 1e-12, 1.0);
  c.lr_scheduler = a.get_string("lr-scheduler", "cosine");
  c.lr_warmup_steps = a.get_int("lr-warmup-steps", 100, 0, 1LL << 40);
  c.adam_weight_decay = a.get_double("adam-weight-decay", 0, 0, 10);
  c.max_grad_norm = a.get_double("max-grad-norm", 1.0, 1e-9, 1e9);
  c.kl_weight = a.get_double("kl-weight", 1e-6, 0, 1e6);
  c.checkpointing_steps = a.get_int("checkpointing-steps", 250, 1, 1LL << 40);
  if (a.has("checkpoints-total-limit"))
    c.checkpoints_total_limit = static_cast<int>(a.get_int("checkpoints-total-limit", 1, 1, 1000000));
  c.resume_from_checkpoint = a.get_string("resume-from-checkpoint", "");
  c.seed = static_cast<std::uint64_t>(a.get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
  c.holdout_images = static_cast<int>(a.get_int("holdout-images", 64, 0, 1000000));
  c.scale_images = static_cast<int>(a.get_int("scale-images", 256, 1, 1000000));
  c.device = a.get_string("device", "cpu");
  c.validate();
  if (a.has("threads")) io::configure_cpu_runtime(static_cast<int>(a.get_int("threads", 1, 1, 1024)));

  const bool events = a.has("events");
  ProgressReporter progress("train-vae", events);
  train::VaeTrainingCallbacks cb;
  cb.event = [&](const std::string&, const nlohmann::json& line) {
    if (events) std::cout << line.dump() << std::endl;
  };
  cb.log = [&](const std::string& s) {
    if (!events) progress.log(s);
  };
  cb.progress = [&](int64_t step, int64_t total) {
    if (!events) progress.update(step, total);
  };
  cb.stop_requested = [] { return StopSignalScope::requested(); };
  train::VaeTrainingSummary s;
  {
    StopSignalScope stop(progress, StopSignalScope::Signals::InterruptAndTerminate);
    s = train::run_vae_training(c, cb);
  }
  if (!events) {
    std::cerr << (s.stopped_early ? "stopped" : "finished") << " at step " << s.global_step;
    if (!s.final_vae_dir.empty())
      std::cerr << ": " << s.final_vae_dir << " (scaling_factor " << s.scaling_factor << ", held-out PSNR "
                << s.holdout_psnr_db << " dB)";
    std::cerr << "\n";
  }
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("train-vae",
                       "train a VAE (AutoencoderKL) on a folder of images, the first stage of a model from scratch",
                       run_train_vae, 31);

}  // namespace gligen::trainer
