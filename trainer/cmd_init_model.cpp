// `gligen-trainer init-model`: a random-initialised diffusers GLIGEN folder, for tests, demos and
// benchmarks without downloads. It produces noise.
#include <iostream>

#include "core/detect/grounding_dino_preset.h"
#include "core/pipeline/model_presets.h"
#include "core/tag/ram_preset.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_init_model(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer init-model",
                "Write a model folder with random weights (for trying and timing without downloads). Presets:\n"
                "  tiny  the test fixtures' architecture, 64x64 images, ~2 MB\n"
                "  sd14  SD 1.4 + GLIGEN text-box sizes (1.07 G UNet parameters), ~4.6 GB, for benchmarks\n"
                "  grounding-dino-base  the detector's real architecture (Swin-B, 232 M parameters, ~0.93 GB)\n"
                "  grounding-dino-tiny  the same with Swin-T\n"
                "  ram-swin-l  the RAM tagger's release checkpoint (ram_swin_large_14m.pth names and shapes, ~1.9 GB)\n"
                "              with synthetic tag lists",
                "gligen-trainer init-model --preset tiny|sd14|grounding-dino-base|grounding-dino-tiny|ram-swin-l --out DIR "
                "[--seed N] [--tokenizer DIR]");
  p.flag({"preset", "NAME", "tiny, sd14, grounding-dino-base, grounding-dino-tiny or ram-swin-l", ""})
      .flag({"out", "DIR", "folder to create (must not exist, or be empty)", ""})
      .flag({"seed", "N", "random seed of the weights", "0"})
      .flag({"tokenizer", "DIR",
             "copy this tokenizer folder (CLIP; BERT for grounding-dino-*) instead of writing a synthetic one", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string preset = args->get_string("preset", "");
  const std::string out = args->get_string("out", "");
  if (preset.empty()) {
    throw Error("--preset is required (tiny, sd14, grounding-dino-base, grounding-dino-tiny or ram-swin-l)");
  }
  if (out.empty()) throw Error("--out DIR is required");
  auto status = [](const std::string& s) { std::cerr << "init-model: " << s << "\n"; };
  if (preset.rfind("ram-", 0) == 0) {
    tag::RamPresetOptions o;
    o.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
    tag::write_ram_preset(preset, out, o, status);
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
  write_model_preset(preset, out, options, status);
  std::cout << out << "\n";
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("init-model", "write a random-initialised model folder (GLIGEN tiny / sd14, Grounding DINO, RAM)", run_init_model, 20);

}  // namespace gligen::trainer
