// `gligen-trainer layout`: reads a layout (ours, a diffusers call's keyword arguments, or a PNG
// that carries one) and writes it as ours, as diffusers keyword arguments, or as a Python script
// that calls diffusers' StableDiffusionGLIGENPipeline with it.
#include <iostream>

#include "core/pipeline/layout.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/layout_args.h"

namespace gligen::trainer {
namespace {

int run_layout(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer layout",
                "Convert a layout: our layout JSON, a diffusers call's keyword arguments as JSON (prompt,\n"
                "gligen_phrases, gligen_boxes, gligen_scheduled_sampling_beta, num_inference_steps, ...), or a PNG\n"
                "written by gligen-trainer / GLIGEN Studio, to any of: gligen (our JSON), diffusers-json (the\n"
                "keyword arguments, + seed) or diffusers-call (a Python script for StableDiffusionGLIGENPipeline).\n"
                "What diffusers cannot express (a box's own beta, inpainting, a UNet override) is named on stderr.",
                "gligen-trainer layout FILE [--to gligen|diffusers-json|diffusers-call] [--model DIR] [--out FILE]");
  p.allow_positional("FILE", "the layout to read (.json or .png)")
      .flag({"to", "FORM", "gligen, diffusers-json or diffusers-call", "gligen"})
      .flag({"model", "DIR", "model folder the diffusers call loads", "the layout's model"})
      .flag({"out", "FILE", "write here instead of standard output", ""});
  auto parsed = p.parse(argv);
  if (!parsed) return 0;
  const cli::Args& a = *parsed;
  if (a.positional().size() != 1) throw Error("give exactly one layout file (see --help)");
  const Layout layout = cli::read_layout_path(a.positional()[0]);
  const std::string to = a.get_string("to", "gligen");
  std::string text;
  if (to == "gligen") {
    text = layout_to_json(layout) + "\n";
  } else if (to == "diffusers-json" || to == "diffusers-call") {
    const auto call = layout_to_diffusers(layout, a.get_string("model", ""));
    for (const auto& n : call.notes) std::cerr << "gligen-trainer layout: note: " << n << "\n";
    text = to == "diffusers-json" ? call.kwargs_json + "\n" : call.python;
  } else {
    throw Error("--to '" + to + "' is not a layout form: choose gligen, diffusers-json or diffusers-call");
  }
  const std::string out = a.get_string("out", "");
  if (out.empty()) {
    std::cout << text;
    return 0;
  }
  write_layout_text(out, text);
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("layout", "convert a layout to or from a diffusers call (JSON kwargs, Python)", run_layout, 35);

}  // namespace gligen::trainer
