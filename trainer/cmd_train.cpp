// `gligen-trainer train`: GLIGEN training as the seed's train_gligen_text.py, with its flag names
// (dashes instead of underscores). One process, or one rank of a torchrun-style launch.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/train/shapes_validation.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

cli::Parser make_parser() {
  cli::Parser p(
      "gligen-trainer train",
      "Train the grounding layers (fusers and position net) of a GLIGEN text-box UNet, as the diffusers\n"
      "GLIGEN training example does. Everything else stays frozen; --trainable unet trains the whole UNet\n"
      "instead (a model from scratch, e.g. init-model --preset shapes-tiny). The run directory (--output-dir) gets\n"
      "run.json, events.jsonl, log.txt, checkpoints/ and images/; the trained UNet goes to <output-dir>/unet.\n"
      "Distributed: start one process per device with torchrun-style variables (RANK, WORLD_SIZE, ...),\n"
      "or use 'gligen-trainer launch --nproc-per-node N -- train ...'. SIGINT/SIGTERM: the current step\n"
      "finishes, a checkpoint is written, and the run ends cleanly (resume with --resume-from-checkpoint latest).",
      "gligen-trainer train --pretrained-model DIR --data-path FILE --image-path DIR --output-dir DIR [options]");
  p.flag({"pretrained-model", "DIR",
          "diffusers GLIGEN pipeline folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/)", ""})
      .flag({"unet", "DIR", "UNet folder replacing the model's unet/ (config.json + weights)", ""})
      .flag({"data-path", "FILE",
             "the records: the seed's .pth list (or folder of per-image .pth), its JSON form "
             "[{file_path, captions, annos: [{caption, bbox, text_embeddings_before_projection}]}], "
             "or an annotation dataset (gligen-trainer dataset import)",
             ""})
      .flag({"image-path", "DIR", "folder the records' file_path are relative to (an annotation dataset knows its own)",
             ""})
      .flag({"output-dir", "DIR", "run directory", ""})
      .flag({"resolution", "N", "training image size (shorter side resized, then center crop)", "512"})
      .flag({"train-batch-size", "N", "batch size per process", "4"})
      .flag({"num-train-epochs", "N", "epochs (ignored when --max-train-steps is given)", "1"})
      .flag({"max-train-steps", "N", "optimizer steps in total", "epochs x steps per epoch"})
      .flag({"stop-at-step", "N",
             "end the run after step N as if it were the last (checkpoint and <output-dir>/unet written), the "
             "learning-rate schedule staying that of --max-train-steps; resuming without it continues",
             "run to the end"})
      .flag({"checkpointing-steps", "N", "write a checkpoint every N steps", "500"})
      .flag({"checkpoints-total-limit", "N", "keep at most N checkpoints", "all"})
      .flag({"resume-from-checkpoint", "latest|DIR", "continue from the newest complete checkpoint or a given one", ""})
      .flag({"learning-rate", "F", "learning rate (after warm-up)", "5e-6"})
      .flag({"scale-lr", "", "multiply the learning rate by accumulation x batch size x processes", ""})
      .flag({"lr-scheduler", "NAME", "constant, constant_with_warmup, linear, cosine, cosine_with_restarts, polynomial",
             "constant"})
      .flag({"lr-warmup-steps", "N", "warm-up steps", "500"})
      .flag({"lr-num-cycles", "N", "hard restarts of cosine_with_restarts", "1"})
      .flag({"lr-power", "F", "power of the polynomial schedule", "1.0"})
      .flag({"adam-beta1", "F", "AdamW beta1", "0.9"})
      .flag({"adam-beta2", "F", "AdamW beta2", "0.999"})
      .flag({"adam-weight-decay", "F", "AdamW weight decay", "1e-2"})
      .flag({"adam-epsilon", "F", "AdamW epsilon", "1e-8"})
      .flag({"max-grad-norm", "F", "gradient clipping norm", "1.0"})
      .flag({"gradient-accumulation-steps", "N", "micro-batches per optimizer step", "1"})
      .flag({"mixed-precision", "MODE", "no, fp16 (CUDA) or bf16 (CUDA; CPU with LibTorch 2.x)", "no"})
      .flag({"seed", "N", "seed of every random draw (data, noise, timesteps, re-initialisation)", "0"})
      .flag({"dataloader-num-workers", "N", "image decoding threads (0: on the training thread)", "0"})
      .flag({"validation-steps", "N", "write validation images every N steps (0: never)", "0"})
      .flag({"grounding-detector", "DIR",
             "Grounding DINO folder: check the validation images' boxes (metric "
             "grounding_fraction_found in events.jsonl)",
             ""})
      .flag({"grounding-iou", "F", "a validation box is found when its detection overlaps it this much", "0.5"})
      .flag({"shapes-heldout", "FILE",
             "held-out layouts of make-shapes-dataset (--heldout-layouts): each validation "
             "generates them and writes the metric shapes_hit_rate (boxes whose colour's "
             "object has IoU >= --shapes-iou) and shapes_boxes; they also become the "
             "validation layout unless --validation-prompt/--validation-phrase is given",
             ""})
      .flag(
          {"shapes-heldout-count", "N", "how many of the held-out layouts (the first N) each validation checks", "32"})
      .flag({"shapes-iou", "F", "a held-out box is hit when its colour's object overlaps it this much", "0.5"})
      .flag({"trainable", "SET",
             "grounding (fusers and position net, the GLIGEN recipe) or unet (every UNet "
             "parameter: training from scratch)",
             "grounding"})
      .flag({"validation-prompt", "TEXT", "validation prompt", "the seed's landscape prompt"})
      .flag({"validation-negative-prompt", "TEXT", "validation negative prompt", "the seed's"})
      .flag({"validation-phrase", "TEXT", "phrase of the next --validation-box", "", true})
      .flag({"validation-box", "x0,y0,x1,y1", "box of the preceding --validation-phrase, in [0, 1]", "", true})
      .flag({"validation-inference-steps", "N", "denoising steps of validation images", "50"})
      .flag({"validation-images", "N", "images per validation (one row)", "4"})
      .flag({"reset-grounding-params", "", "re-initialise fuser/position_net layers before training (default)", ""})
      .flag({"no-reset-grounding-params", "", "keep the model's fuser/position_net weights (continue fine-tuning)", ""})
      .flag({"embed-with-model", "", "re-embed the annotation captions with the model's text encoder (cached)", ""})
      .flag({"cache-latents", "",
             "encode every image with the frozen VAE once, before step 1, and reuse its latent mean and std "
             "(memory: 2 x latent size per image)",
             ""})
      .flag({"prob-drop-captions", "F", "chance that a sample's caption is replaced by the empty one", "0.5"})
      .flag({"prob-drop-boxes", "F", "chance that a sample's boxes are all dropped", "0.1"})
      .flag({"timestep-bias-strategy", "S",
             "draw some timesteps more often: none, later (the noisiest, where layouts are decided), earlier or "
             "range",
             "none"})
      .flag({"timestep-bias-multiplier", "F", "how many times as often the biased timesteps are drawn", "1"})
      .flag({"timestep-bias-portion", "F", "later/earlier: the fraction of the timesteps biased", "0.25"})
      .flag({"timestep-bias-begin", "N", "range: first biased timestep", "0"})
      .flag({"timestep-bias-end", "N", "range: one past the last biased timestep", "1000"})
      .flag({"device", "DEV", "cpu, cuda or cuda:N (distributed: cuda means cuda:LOCAL_RANK)", "cpu"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"events", "", "print the run's events as JSON lines on stdout instead of a progress bar", ""});
  return p;
}

train::TrainingConfig config_from_args(const cli::Args& a) {
  train::TrainingConfig c;
  c.pretrained_model = a.get_string("pretrained-model", "");
  c.unet_override = a.get_string("unet", "");
  c.data_path = a.get_string("data-path", "");
  c.image_path = a.get_string("image-path", "");
  c.output_dir = a.get_string("output-dir", "");
  c.resolution = static_cast<int>(a.get_int("resolution", 512, 8, 4096));
  c.train_batch_size = static_cast<int>(a.get_int("train-batch-size", 4, 1, 4096));
  c.num_train_epochs = static_cast<int>(a.get_int("num-train-epochs", 1, 1, 1000000));
  if (a.has("max-train-steps")) c.max_train_steps = a.get_int("max-train-steps", 1, 1, 1LL << 40);
  if (a.has("stop-at-step")) c.stop_at_step = a.get_int("stop-at-step", 1, 1, 1LL << 40);
  c.checkpointing_steps = a.get_int("checkpointing-steps", 500, 1, 1LL << 40);
  if (a.has("checkpoints-total-limit"))
    c.checkpoints_total_limit = static_cast<int>(a.get_int("checkpoints-total-limit", 1, 1, 1000000));
  c.resume_from_checkpoint = a.get_string("resume-from-checkpoint", "");
  c.learning_rate = a.get_double("learning-rate", 5e-6, 1e-12, 1.0);
  c.scale_lr = a.has("scale-lr");
  c.lr_scheduler = a.get_string("lr-scheduler", "constant");
  c.lr_warmup_steps = a.get_int("lr-warmup-steps", 500, 0, 1LL << 40);
  c.lr_num_cycles = a.get_int("lr-num-cycles", 1, 1, 1000000);
  c.lr_power = a.get_double("lr-power", 1.0, 1e-6, 1000);
  c.adam_beta1 = a.get_double("adam-beta1", 0.9, 0, 0.999999);
  c.adam_beta2 = a.get_double("adam-beta2", 0.999, 0, 0.9999999);
  c.adam_weight_decay = a.get_double("adam-weight-decay", 1e-2, 0, 10);
  c.adam_epsilon = a.get_double("adam-epsilon", 1e-8, 1e-30, 1);
  c.max_grad_norm = a.get_double("max-grad-norm", 1.0, 1e-9, 1e9);
  c.gradient_accumulation_steps = static_cast<int>(a.get_int("gradient-accumulation-steps", 1, 1, 100000));
  c.mixed_precision = a.get_string("mixed-precision", "no");
  c.seed = static_cast<std::uint64_t>(a.get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
  c.dataloader_num_workers = static_cast<int>(a.get_int("dataloader-num-workers", 0, 0, 256));
  c.validation_steps = a.get_int("validation-steps", 0, 0, 1LL << 40);
  c.validation_inference_steps = static_cast<int>(a.get_int("validation-inference-steps", 50, 1, 1000));
  c.validation_images = static_cast<int>(a.get_int("validation-images", 4, 1, 16));
  c.validation_layout = train::seed_validation_layout();
  c.grounding_detector = a.get_string("grounding-detector", "");
  c.grounding_iou = a.get_double("grounding-iou", 0.5, 0.0, 1.0);
  c.shapes_heldout = a.get_string("shapes-heldout", "");
  c.shapes_heldout_count = static_cast<int>(a.get_int("shapes-heldout-count", 32, 1, 100000));
  c.shapes_iou = a.get_double("shapes-iou", 0.5, 1e-6, 1.0);
  c.trainable = a.get_string("trainable", "grounding");
  if (!c.shapes_heldout.empty() && c.validation_steps > 0 && !a.has("validation-prompt") &&
      !a.has("validation-phrase") && std::filesystem::is_regular_file(c.shapes_heldout)) {
    // A shapes run's validation images show a shapes layout rather than the seed's landscape.
    const auto first = train::read_shapes_heldout(c.shapes_heldout, 1).layouts.at(0);
    c.validation_layout.prompt = first.prompt;
    c.validation_layout.negative_prompt.clear();
    c.validation_layout.boxes = first.boxes;
  }
  if (auto v = a.get("validation-prompt")) c.validation_layout.prompt = *v;
  if (auto v = a.get("validation-negative-prompt")) c.validation_layout.negative_prompt = *v;
  auto boxes = cli::phrase_boxes(a, "validation-phrase", "validation-box", /*check_range=*/true);
  if (!boxes.empty()) c.validation_layout.boxes = boxes;
  if (a.has("reset-grounding-params") && a.has("no-reset-grounding-params")) {
    throw Error("--reset-grounding-params and --no-reset-grounding-params contradict each other");
  }
  c.reset_grounding_params = !a.has("no-reset-grounding-params");
  c.embed_with_model = a.has("embed-with-model");
  c.cache_latents = a.has("cache-latents");
  c.prob_drop_captions = a.get_double("prob-drop-captions", 0.5, 0.0, 1.0);
  c.prob_drop_boxes = a.get_double("prob-drop-boxes", 0.1, 0.0, 1.0);
  c.timestep_bias_strategy = a.get_string("timestep-bias-strategy", "none");
  c.timestep_bias_multiplier = a.get_double("timestep-bias-multiplier", 1.0, 1e-6, 1e6);
  c.timestep_bias_portion = a.get_double("timestep-bias-portion", 0.25, 1e-6, 1.0);
  c.timestep_bias_begin = a.get_int("timestep-bias-begin", 0, 0, 1 << 30);
  c.timestep_bias_end = a.get_int("timestep-bias-end", 1000, 1, 1 << 30);
  c.device = a.get_string("device", "cpu");
  if (!a.positional().empty()) throw Error("unexpected argument '" + a.positional()[0] + "'");
  c.validate();
  return c;
}

int run_train(const std::vector<std::string>& argv) {
  auto parsed = make_parser().parse(argv);
  if (!parsed) return 0;
  const cli::Args& args = *parsed;
  train::TrainingConfig config = config_from_args(args);
  if (args.has("threads")) gligen::io::configure_cpu_runtime(static_cast<int>(args.get_int("threads", 1, 1, 1024)));
  const bool events = args.has("events");
  ProgressReporter progress("train", events);
  train::TrainingCallbacks cb;
  cb.event = [&](const std::string& kind, const nlohmann::json& line) {
    if (events) std::cout << line.dump() << std::endl;
  };
  cb.log = [&](const std::string& s) {
    if (!events) progress.log(s);
  };
  cb.progress = [&](const train::TrainingProgress& p) {
    if (!events) progress.update(p.step, p.max_steps);
  };
  cb.stop_requested = [] { return StopSignalScope::requested(); };
  train::TrainingSummary summary;
  {
    StopSignalScope stop(progress, StopSignalScope::Signals::InterruptAndTerminate);
    summary = train::run_training(config, cb);
  }
  if (!events) {
    std::cerr << (summary.stopped_early ? "stopped" : "finished") << " at step " << summary.global_step << " ("
              << summary.samples_per_second << " samples/s, data wait " << summary.total_data_wait_seconds << " s"
              << (summary.skipped_images ? ", " + std::to_string(summary.skipped_images) + " unreadable images skipped"
                                         : "")
              << ")\n";
  }
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("train",
                       "train the GLIGEN grounding layers (fusers, position net), or the whole UNet, on a dataset",
                       run_train, 30);

}  // namespace gligen::trainer
