// `gligen-trainer init-model`: a random-initialised diffusers GLIGEN folder, for tests, demos and
// benchmarks without downloads. It produces noise.
#include <iostream>

#include "core/pipeline/model_presets.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_init_model(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer init-model",
                "Write a diffusers GLIGEN pipeline folder with random weights (it generates noise). Presets:\n"
                "  tiny  the test fixtures' architecture, 64x64 images, ~2 MB\n"
                "  sd14  SD 1.4 + GLIGEN text-box sizes (1.07 G UNet parameters), ~4.6 GB, for benchmarks",
                "gligen-trainer init-model --preset tiny|sd14 --out DIR [--seed N] [--tokenizer DIR]");
  p.flag({"preset", "NAME", "tiny or sd14", ""})
      .flag({"out", "DIR", "folder to create (must not exist, or be empty)", ""})
      .flag({"seed", "N", "random seed of the weights", "0"})
      .flag({"tokenizer", "DIR", "copy this CLIP tokenizer folder instead of writing a byte-level one", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string preset = args->get_string("preset", "");
  const std::string out = args->get_string("out", "");
  if (preset.empty()) throw Error("--preset is required (tiny or sd14)");
  if (out.empty()) throw Error("--out DIR is required");
  ModelPresetOptions options;
  options.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
  options.tokenizer_from = args->get_string("tokenizer", "");
  write_model_preset(preset, out, options, [](const std::string& s) { std::cerr << "init-model: " << s << "\n"; });
  std::cout << out << "\n";
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("init-model", "write a random-initialised GLIGEN model folder (tiny or sd14)", run_init_model, 20);

}  // namespace gligen::trainer
