// `gligen-trainer init-model`: a random-initialised diffusers GLIGEN folder, for tests, demos and
// benchmarks without downloads. It produces noise.
#include <iostream>

#include "core/detect/grounding_dino_preset.h"
#include "core/nets/blip2_preset.h"
#include "core/pipeline/model_presets.h"
#include "core/shapes/shape_vocabulary.h"
#include "core/tag/ram_preset.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_init_model(const std::vector<std::string>& argv) {
  cli::Parser p(
      "gligen-trainer init-model",
      "Write a model folder with random weights (for trying and timing without downloads). Presets:\n"
      "  tiny  the test fixtures' architecture, 64x64 images, ~2 MB\n"
      "  shapes-tiny  the shapes demo model to train from scratch (train --trainable unet on\n"
      "               make-shapes-dataset): 64x64 images, 4x VAE (16x16 latents), 3-level gated UNet\n"
      "               (32/64/96 channels), 2-layer 64-d CLIP text encoder, a tokenizer with the shapes\n"
      "               words as single tokens; ~17 MB\n"
      "  sd14  SD 1.4 + GLIGEN text-box sizes (1.07 G UNet parameters), ~4.6 GB, for benchmarks\n"
      "  grounding-dino-base  the detector's real architecture (Swin-B, 232 M parameters, ~0.93 GB)\n"
      "  grounding-dino-tiny  the same with Swin-T\n"
      "  ram-swin-l  the RAM tagger's release checkpoint (ram_swin_large_14m.pth names and shapes, ~1.9 GB)\n"
      "              with synthetic tag lists\n"
      "  blip2-flan-t5-xl   the captioner's BLIP-2 with Flan-T5-XL (3.9 G parameters, 15.8 GB in float32)\n"
      "  blip2-flan-t5-xxl  the same with Flan-T5-XXL, the dataset job's (12.2 G parameters, 48.9 GB in\n"
      "                     float32, in 5 GB shards + index as save_pretrained writes them); written tensor\n"
      "                     by tensor, in little memory.\n"
      "                     Without --tokenizer the T5 vocabulary is synthetic (same ids, meaningless pieces).",
      "gligen-trainer init-model --preset tiny|shapes-tiny|sd14|grounding-dino-base|grounding-dino-tiny|ram-swin-l|"
      "blip2-flan-t5-xl|blip2-flan-t5-xxl --out DIR [--seed N] [--tokenizer DIR] [--dtype float32|float16|bfloat16]");
  p.flag({"preset", "NAME",
          "tiny, shapes-tiny, sd14, grounding-dino-base, grounding-dino-tiny, ram-swin-l, "
          "blip2-flan-t5-xl or blip2-flan-t5-xxl",
          ""})
      .flag({"out", "DIR", "folder to create (must not exist, or be empty)", ""})
      .flag({"seed", "N", "random seed of the weights", "0"})
      .flag({"tokenizer", "DIR",
             "copy this tokenizer folder (CLIP; BERT for grounding-dino-*; Flan-T5 for blip2-*) instead of writing a "
             "synthetic one",
             ""})
      .flag({"dtype", "NAME", "blip2-* only: float32 (as released), float16 or bfloat16 weights", "float32"});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string preset = args->get_string("preset", "");
  const std::string out = args->get_string("out", "");
  if (preset.empty()) {
    throw Error(
        "--preset is required (tiny, shapes-tiny, sd14, grounding-dino-base, grounding-dino-tiny, ram-swin-l, "
        "blip2-flan-t5-xl or blip2-flan-t5-xxl)");
  }
  if (out.empty()) throw Error("--out DIR is required");
  auto status = [](const std::string& s) { std::cerr << "init-model: " << s << "\n"; };
  if (args->has("dtype") && preset.rfind("blip2-", 0) != 0) throw Error("--dtype applies to the blip2-* presets only");
  if (preset.rfind("ram-", 0) == 0) {
    tag::RamPresetOptions o;
    o.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
    tag::write_ram_preset(preset, out, o, status);
    std::cout << out << "\n";
    return 0;
  }
  if (preset.rfind("blip2-", 0) == 0) {
    nets::Blip2PresetOptions o;
    o.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
    o.tokenizer_from = args->get_string("tokenizer", "");
    o.dtype = args->get_string("dtype", "float32");
    nets::write_blip2_preset(preset, out, o, status);
    std::cout << out << "\n";
    return 0;
  }
  if (preset.rfind("grounding-dino", 0) == 0) {
    detect::GroundingDinoPresetOptions o;
    o.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
    o.tokenizer_from = args->get_string("tokenizer", "");
    detect::write_grounding_dino_preset(preset, out, o, status);
    std::cout << out << "\n";
    return 0;
  }
  ModelPresetOptions options;
  options.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
  options.tokenizer_from = args->get_string("tokenizer", "");
  if (preset == "shapes-tiny") options.tokenizer_words = shapes::shapes_tokenizer_words();
  write_model_preset(preset, out, options, status);
  std::cout << out << "\n";
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND(
    "init-model",
    "write a random-initialised model folder (GLIGEN tiny / shapes-tiny / sd14, Grounding DINO, RAM, BLIP-2)",
    run_init_model, 20);

}  // namespace gligen::trainer
