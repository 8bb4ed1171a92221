// TrainingConfig: validation with flag-named messages, run.json form, the seed's validation layout.
#include <filesystem>

#include "core/distributed/torch_build.h"
#include "core/train/lr_schedule.h"
#include "core/train/trainer.h"
#include "core/train/training_records.h"
#include "core/train/training_step.h"
#include "core/annotations/annotation_store.h"
#include "core/util/error.h"

namespace gligen::train {

Layout seed_validation_layout() {
  Layout l;
  l.prompt =
      "A realistic image of landscape scene depicting a green car parking on the left of a blue truck, with a red air "
      "balloon and a bird in the sky";
  l.negative_prompt =
      "artifacts, blurry, smooth texture, bad quality, distortions, unrealistic, distorted image, bad proportions, "
      "duplicate";
  l.boxes = {{"a green car", 0.041015625f, 0.548828125f, 0.453125f, 0.859375f, true, std::nullopt},
             {"a blue truck", 0.525390625f, 0.552734375f, 0.93359375f, 0.865234375f, true, std::nullopt},
             {"a red air balloon", 0.12890625f, 0.015625f, 0.412109375f, 0.279296875f, true, std::nullopt},
             {"a bird", 0.578125f, 0.08203125f, 0.857421875f, 0.27734375f, true, std::nullopt}};
  l.beta = 1.0;
  l.guidance = 7.5;
  l.scheduler = "euler";
  l.steps = 50;
  l.batch = 4;
  return l;
}

void TrainingConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw Error(msg);
  };
  need(!pretrained_model.empty(), "--pretrained-model DIR is required (a diffusers GLIGEN pipeline folder)");
  need(std::filesystem::is_directory(pretrained_model),
       "--pretrained-model '" + pretrained_model + "' is not a folder");
  need(unet_override.empty() || std::filesystem::is_directory(unet_override),
       "--unet '" + unet_override + "' is not a folder");
  need(!data_path.empty(), "--data-path FILE is required (the record list, .json)");
  // An annotation dataset knows its image root; the record lists need one.
  need(!image_path.empty() || annotations::is_annotation_database(data_path),
       "--image-path DIR is required (the folder the records' file_path are relative to)");
  need(image_path.empty() || std::filesystem::is_directory(image_path),
       "--image-path '" + image_path + "' is not a folder");
  need(!output_dir.empty(), "--output-dir DIR is required (the run directory)");
  need(resolution >= 8 && resolution <= 4096 && resolution % 8 == 0,
       "--resolution must be a multiple of 8 in [8, 4096], got " + std::to_string(resolution));
  need(train_batch_size >= 1, "--train-batch-size must be >= 1");
  need(num_train_epochs >= 1, "--num-train-epochs must be >= 1");
  need(!max_train_steps || *max_train_steps >= 1, "--max-train-steps must be >= 1");
  need(checkpointing_steps >= 1, "--checkpointing-steps must be >= 1");
  need(!checkpoints_total_limit || *checkpoints_total_limit >= 1, "--checkpoints-total-limit must be >= 1");
  need(learning_rate > 0 && learning_rate < 1, "--learning-rate must be in (0, 1)");
  lr_schedule_from_name(lr_scheduler);
  need(lr_warmup_steps >= 0, "--lr-warmup-steps must be >= 0");
  need(timestep_bias_strategy == "none" || timestep_bias_strategy == "later" || timestep_bias_strategy == "earlier" ||
           timestep_bias_strategy == "range",
       "--timestep-bias-strategy must be none, later, earlier or range, got '" + timestep_bias_strategy + "'");
  need(timestep_bias_multiplier > 0, "--timestep-bias-multiplier must be > 0 (1 is no bias)");
  need(timestep_bias_portion > 0 && timestep_bias_portion <= 1, "--timestep-bias-portion must be in (0, 1]");
  need(timestep_bias_begin >= 0 && timestep_bias_begin < timestep_bias_end,
       "--timestep-bias-begin must be >= 0 and below --timestep-bias-end");
  need(lr_num_cycles >= 1, "--lr-num-cycles must be >= 1");
  need(lr_power > 0, "--lr-power must be > 0");
  need(adam_beta1 >= 0 && adam_beta1 < 1, "--adam-beta1 must be in [0, 1)");
  need(adam_beta2 >= 0 && adam_beta2 < 1, "--adam-beta2 must be in [0, 1)");
  need(adam_weight_decay >= 0, "--adam-weight-decay must be >= 0");
  need(adam_epsilon > 0, "--adam-epsilon must be > 0");
  need(max_grad_norm > 0, "--max-grad-norm must be > 0");
  need(gradient_accumulation_steps >= 1, "--gradient-accumulation-steps must be >= 1");
  need(mixed_precision == "no" || mixed_precision == "fp16" || mixed_precision == "bf16",
       "--mixed-precision must be no, fp16 or bf16, got '" + mixed_precision + "'");
  // float16 is CUDA's; bfloat16 runs on the CPU where LibTorch's CPU autocast covers the UNet's ops.
  const bool on_cuda = device.rfind("cuda", 0) == 0;
  need(mixed_precision != "fp16" || on_cuda,
       "--mixed-precision fp16 needs a CUDA device; on the CPU use --mixed-precision bf16 (LibTorch 2.x) or no");
  if (mixed_precision == "bf16" && !on_cuda) {
    const auto tb = distributed::torch_build();
    need(tb.cpu_bf16_autocast,
         "--mixed-precision bf16 on the CPU needs LibTorch 2.x's CPU autocast; this build's "
         "LibTorch " +
             tb.version +
             " lacks bfloat16 CPU kernels the UNet needs. Use "
             "--mixed-precision no, or a LibTorch 2.x build ('packaging/dev.sh build --torch pip')");
  }
  need(dataloader_num_workers >= 0 && dataloader_num_workers <= 256, "--dataloader-num-workers must be in [0, 256]");
  need(validation_steps >= 0, "--validation-steps must be >= 0 (0 turns validation off)");
  need(validation_inference_steps >= 1, "--validation-inference-steps must be >= 1");
  need(grounding_detector.empty() || validation_steps > 0,
       "--grounding-detector checks the validation images: also give --validation-steps N");
  need(grounding_iou > 0 && grounding_iou <= 1, "--grounding-iou must be in (0, 1]");
  trainable_set_from_name(trainable);
  if (!shapes_heldout.empty()) {
    need(std::filesystem::is_regular_file(shapes_heldout),
         "--shapes-heldout '" + shapes_heldout +
             "' is not a file (give the layout set written by make-shapes-dataset "
             "--heldout-layouts)");
    need(validation_steps > 0, "--shapes-heldout is checked at each validation: also give --validation-steps N");
  }
  need(shapes_heldout_count >= 1 && shapes_heldout_count <= 100000,
       "--shapes-heldout-count must be in [1, 100000], got " + std::to_string(shapes_heldout_count));
  need(shapes_iou > 0 && shapes_iou <= 1, "--shapes-iou must be in (0, 1]");
  need(validation_images >= 1 && validation_images <= 16, "--validation-images must be in [1, 16]");
  need(max_boxes >= 1 && max_boxes <= 30, "max boxes must be in [1, 30]");
}

nlohmann::json TrainingConfig::to_json() const {
  nlohmann::json j = {{"pretrained_model", pretrained_model},
                      {"unet", unet_override},
                      {"data_path", data_path},
                      {"image_path", image_path},
                      {"output_dir", output_dir},
                      {"resolution", resolution},
                      {"train_batch_size", train_batch_size},
                      {"num_train_epochs", num_train_epochs},
                      {"max_train_steps", max_train_steps ? nlohmann::json(*max_train_steps) : nlohmann::json()},
                      {"stop_at_step", stop_at_step ? nlohmann::json(*stop_at_step) : nlohmann::json()},
                      {"checkpointing_steps", checkpointing_steps},
                      {"checkpoints_total_limit",
                       checkpoints_total_limit ? nlohmann::json(*checkpoints_total_limit) : nlohmann::json()},
                      {"resume_from_checkpoint", resume_from_checkpoint},
                      {"learning_rate", learning_rate},
                      {"scale_lr", scale_lr},
                      {"lr_scheduler", lr_scheduler},
                      {"lr_warmup_steps", lr_warmup_steps},
                      {"lr_num_cycles", lr_num_cycles},
                      {"lr_power", lr_power},
                      {"adam_beta1", adam_beta1},
                      {"adam_beta2", adam_beta2},
                      {"adam_weight_decay", adam_weight_decay},
                      {"adam_epsilon", adam_epsilon},
                      {"max_grad_norm", max_grad_norm},
                      {"gradient_accumulation_steps", gradient_accumulation_steps},
                      {"mixed_precision", mixed_precision},
                      {"seed", seed},
                      {"dataloader_num_workers", dataloader_num_workers},
                      {"validation_steps", validation_steps},
                      {"validation_inference_steps", validation_inference_steps},
                      {"validation_images", validation_images},
                      {"grounding_detector", grounding_detector},
                      {"grounding_iou", grounding_iou},
                      {"shapes_heldout", shapes_heldout},
                      {"shapes_heldout_count", shapes_heldout_count},
                      {"shapes_iou", shapes_iou},
                      {"trainable", trainable},
                      {"validation_prompt", validation_layout.prompt},
                      {"validation_negative_prompt", validation_layout.negative_prompt},
                      {"reset_grounding_params", reset_grounding_params},
                      {"embed_with_model", embed_with_model},
                      {"cache_latents", cache_latents},
                      {"device", device},
                      {"max_boxes", max_boxes},
                      {"min_box_size", min_box_size},
                      {"prob_drop_boxes", prob_drop_boxes},
                      {"timestep_bias_strategy", timestep_bias_strategy},
                      {"timestep_bias_multiplier", timestep_bias_multiplier},
                      {"timestep_bias_portion", timestep_bias_portion},
                      {"timestep_bias_begin", timestep_bias_begin},
                      {"timestep_bias_end", timestep_bias_end},
                      {"prob_drop_captions", prob_drop_captions}};
  nlohmann::json boxes = nlohmann::json::array();
  for (const auto& b : validation_layout.boxes)
    boxes.push_back({{"phrase", b.phrase}, {"box", {b.x0, b.y0, b.x1, b.y1}}});
  j["validation_boxes"] = boxes;
  return j;
}

}  // namespace gligen::train
