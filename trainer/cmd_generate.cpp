// `gligen-trainer generate`: one layout in, PNG(s) out, with the layout embedded in each PNG.
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

cli::Parser make_parser() {
  cli::Parser p("gligen-trainer generate",
                "Generate images from a prompt and (phrase, box) pairs with a GLIGEN model. Each --phrase pairs with\n"
                "the --box that follows it; boxes are x0,y0,x1,y1 in [0, 1] of the image size. Flags override the\n"
                "values of --layout. The layout is embedded in every PNG written (re-open it with --layout FILE.png).",
                "gligen-trainer generate --model DIR (--layout FILE | --prompt TEXT [--phrase TEXT --box x0,y0,x1,y1]...) "
                "--out FILE.png [options]");
  p.flag({"model", "DIR", "diffusers GLIGEN pipeline folder (model_index.json, unet/, vae/, ...)", ""})
      .flag({"unet", "DIR", "UNet override folder (config.json + weights), e.g. a retrained GLIGEN UNet", ""})
      .flag({"layout", "FILE", "layout JSON, or a PNG written by GLIGEN Studio", ""})
      .flag({"prompt", "TEXT", "the image prompt", ""})
      .flag({"negative-prompt", "TEXT", "what to avoid", "empty"})
      .flag({"phrase", "TEXT", "phrase of the next --box", "", true})
      .flag({"box", "x0,y0,x1,y1", "box of the preceding --phrase, normalised to [0, 1]", "", true})
      .flag({"seed", "N", "random seed (same seed, same image as diffusers with a CPU generator)", "random"})
      .flag({"steps", "N", "denoising steps", "50"})
      .flag({"guidance", "F", "classifier-free guidance scale (1 disables it)", "7.5"})
      .flag({"beta", "F", "scheduled sampling: grounding on for this fraction of the steps", "0.3"})
      .flag({"eta", "F", "DDIM eta", "0"})
      .flag({"scheduler", "NAME", "pndm, ddim, euler, euler-a, dpm++2m or lms", "the model folder's"})
      .flag({"width", "N", "image width, a multiple of 8", "UNet sample size x 8"})
      .flag({"height", "N", "image height, a multiple of 8", "UNet sample size x 8"})
      .flag({"batch", "N", "images per prompt", "1"})
      .flag({"inpaint-image", "FILE", "grounded inpainting: regenerate the boxes' regions of this image", ""})
      .flag({"device", "DEV", "cpu, cuda or cuda:N", "cpu"})
      .flag({"dtype", "T", "fp32, fp16 or bf16 (half precision needs CUDA)", "fp32"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"keep-weights", "", "CPU: keep every weight resident instead of releasing each part's after use",
             "release (lower peak memory)"})
      .flag({"events", "", "print JSON lines (progress, log, image, done) instead of a progress bar", ""})
      .flag({"out", "FILE.png", "output image; with --batch N, FILE-1.png ... FILE-N.png", ""});
  return p;
}

Layout layout_from_args(const cli::Args& args) {
  Layout l;
  if (auto path = args.get("layout")) {
    const std::string ext = std::filesystem::path(*path).extension().string();
    if (ext == ".png" || ext == ".PNG") {
      auto text = read_png_text(*path);
      auto it = text.find(kLayoutPngKey);
      if (it == text.end()) throw Error("'" + *path + "' carries no GLIGEN layout (it was not written by GLIGEN Studio)");
      l = layout_from_json(it->second, *path);
    } else {
      l = read_layout_file(*path);
    }
  }
  if (auto v = args.get("prompt")) l.prompt = *v;
  if (auto v = args.get("negative-prompt")) l.negative_prompt = *v;
  // Pair each --phrase with the --box after it.
  auto boxes = cli::phrase_boxes(args, "phrase", "box", /*check_range=*/false);
  if (!boxes.empty()) l.boxes = boxes;
  if (args.has("seed")) l.seed = static_cast<std::uint64_t>(args.get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
  l.steps = static_cast<int>(args.get_int("steps", l.steps, 1, 1000));
  l.guidance = args.get_double("guidance", l.guidance, 0, 100);
  l.beta = args.get_double("beta", l.beta, 0, 1);
  l.eta = args.get_double("eta", l.eta, 0, 1);
  l.scheduler = args.get_string("scheduler", l.scheduler);
  l.width = static_cast<int>(args.get_int("width", l.width, 8, 4096));
  l.height = static_cast<int>(args.get_int("height", l.height, 8, 4096));
  l.batch = static_cast<int>(args.get_int("batch", l.batch, 1, 64));
  l.model = args.get_string("model", l.model);
  l.unet = args.get_string("unet", l.unet);
  l.inpaint_image = args.get_string("inpaint-image", l.inpaint_image);
  validate_layout(l, "command line");
  if (l.model.empty()) throw Error("--model DIR is required (a diffusers GLIGEN pipeline folder)");
  return l;
}

PipelineOptions options_from_args(const cli::Args& args) {
  PipelineOptions o;
  const std::string dev = args.get_string("device", "cpu");
  try {
    o.device = torch::Device(dev);
  } catch (const std::exception&) {
    throw Error("--device '" + dev + "' is not a device (use cpu, cuda or cuda:N)");
  }
  if (o.device.is_cuda() && !torch::cuda::is_available()) {
    throw Error("--device " + dev + ": this build of LibTorch has no CUDA or no GPU is visible; use --device cpu");
  }
  const std::string dt = args.get_string("dtype", "fp32");
  if (dt == "fp32") {
    o.dtype = torch::kFloat32;
  } else if (dt == "fp16" || dt == "bf16") {
    if (!o.device.is_cuda()) throw Error("--dtype " + dt + " needs --device cuda; on the CPU use fp32");
    o.dtype = dt == "fp16" ? torch::kFloat16 : torch::kBFloat16;
  } else {
    throw Error("--dtype must be fp32, fp16 or bf16, got '" + dt + "'");
  }
  o.release_weights = !args.has("keep-weights");
  return o;
}

std::string output_path(const std::string& out, int index, int count) {
  if (count == 1) return out;
  std::filesystem::path p(out);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index + 1) + p.extension().string())).string();
}

int run_generate(const std::vector<std::string>& argv) {
  auto parsed = make_parser().parse(argv);
  if (!parsed) return 0;
  const cli::Args& args = *parsed;
  Layout layout = layout_from_args(args);
  const std::string out = args.get_string("out", "");
  if (out.empty()) throw Error("--out FILE.png is required");
  {
    auto parent = std::filesystem::path(out).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
      throw Error("--out: the folder '" + parent.string() + "' does not exist");
    }
  }
  if (args.has("threads")) at::set_num_threads(static_cast<int>(args.get_int("threads", 1, 1, 1024)));
  const bool events = args.has("events");
  ProgressReporter progress("generate", events);
  auto pipe = GligenPipeline::load(layout.model, layout.unet, options_from_args(args),
                                   [&](const std::string& s) { progress.log(s); });
  GenerationRequest request;
  request.layout = layout;
  GenerationCallbacks cb;
  cb.progress = [&](int done, int total) { progress.update(done, total); };
  cb.warning = [&](const std::string& w) { progress.log("warning: " + w); };
  cb.cancelled = [] { return StopSignalScope::requested(); };
  GenerationResult result;
  {
    StopSignalScope stop(progress, StopSignalScope::Signals::Interrupt);
    result = pipe->generate(request, cb);
  }
  const std::string json = layout_to_json(result.layout);
  auto images = result.rgb();
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string path = output_path(out, static_cast<int>(i), static_cast<int>(images.size()));
    write_png(path, images[i], {{kLayoutPngKey, json}});
    if (events) {
      progress.event("image", "\"path\":" + nlohmann::json(path).dump());
    } else {
      std::cout << path << "\n";
    }
  }
  progress.event("done", "\"seed\":" + std::to_string(result.layout.seed.value_or(0)));
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("generate", "generate images from a prompt and (phrase, box) pairs", run_generate, 10);

}  // namespace gligen::trainer
