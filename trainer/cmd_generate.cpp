// `gligen-trainer generate`: one layout in, PNG(s) out, with the layout embedded in each PNG.
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/detect/grounding_check.h"
#include "core/detect/grounding_dino.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/model_folder.h"
#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/layout_args.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

cli::Parser make_parser() {
  cli::Parser p(
      "gligen-trainer generate",
      "Generate images from a prompt and (phrase, box) pairs with a GLIGEN model. Each --phrase pairs with\n"
      "the --box that follows it; boxes are x0,y0,x1,y1 in [0, 1] of the image size. Flags override the\n"
      "values of --layout (ours, or a diffusers call's keyword arguments as JSON). The layout is embedded\n"
      "in every PNG written (re-open it with --layout FILE.png).",
      "gligen-trainer generate [--model DIR] (--layout FILE | --prompt TEXT [--phrase TEXT --box x0,y0,x1,y1]...) "
      "--out FILE.png [options]");
  p.flag({"model", "DIR", "diffusers GLIGEN pipeline folder (model_index.json, unet/, vae/, ...)",
          "the shipped shapes demo model"})
      .flag({"unet", "DIR", "UNet override folder (config.json + weights), e.g. a retrained GLIGEN UNet", ""})
      .flag({"layout", "FILE", "layout JSON, or a PNG written by GLIGEN Studio", ""})
      .flag({"prompt", "TEXT", "the image prompt", ""})
      .flag({"negative-prompt", "TEXT", "what to avoid", "empty"})
      .flag({"phrase", "TEXT", "phrase of the next --box", "", true})
      .flag({"box", "x0,y0,x1,y1", "box of the preceding --phrase, normalised to [0, 1]", "", true})
      .flag({"box-beta", "F", "the preceding --box's own beta (how long its grounding stays on; 0: not grounded)",
             "--beta", true})
      .flag({"seed", "N", "random seed (same seed, same image as diffusers with a CPU generator)", "random"})
      .flag({"steps", "N", "denoising steps", "50"})
      .flag({"guidance", "F", "classifier-free guidance scale (1 disables it)", "7.5"})
      .flag({"beta", "F", "scheduled sampling: grounding on for this fraction of the steps",
             "the layout's, else the model's own default, else 0.3"})
      .flag({"eta", "F", "DDIM eta", "0"})
      .flag({"scheduler", "NAME", "pndm, ddim, euler, euler-a, dpm++2m or lms", "the model folder's"})
      .flag({"width", "N", "image width, a multiple of 8", "UNet sample size x 8"})
      .flag({"height", "N", "image height, a multiple of 8", "UNet sample size x 8"})
      .flag({"batch", "N", "images per prompt", "1"})
      .flag({"inpaint-image", "FILE", "grounded inpainting: regenerate the boxes' regions of this image", ""})
      .flag({"device", "DEV", "cpu, cuda or cuda:N", "cpu"})
      .flag({"dtype", "T", "fp32, fp16 or bf16 (half precision needs CUDA)", "fp32"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"weight-release", "MODE",
             "CPU: hand each part's weight pages back after use: auto (only while the available memory is below the "
             "weights' size + 2 GiB), always (lowest peak memory) or never",
             "auto"})
      .flag({"keep-weights", "", "the same as --weight-release never", ""})
      .flag({"check", "", "check each image with the detector: was every box's phrase found in its box?", ""})
      .flag({"detector", "DIR", "Grounding DINO folder for --check / --max-tries", ""})
      .flag({"check-iou", "F", "a box is found when the detection of its phrase overlaps it this much (IoU)", "0.5"})
      .flag({"max-tries", "N",
             "generate until grounded: try up to N seeds (seed, seed+1, ...), keep the best by boxes "
             "found, stop early when all are found (implies --check)",
             "1"})
      .flag({"events", "", "print JSON lines (progress, log, image, check, done) instead of a progress bar", ""})
      .flag({"out", "FILE.png", "output image; with --batch N, FILE-1.png ... FILE-N.png", ""});
  return p;
}

Layout layout_from_args(const cli::Args& args) {
  Layout l;
  if (auto path = args.get("layout")) l = cli::read_layout_path(*path);
  if (auto v = args.get("prompt")) l.prompt = *v;
  if (auto v = args.get("negative-prompt")) l.negative_prompt = *v;
  // Pair each --phrase with the --box after it.
  auto boxes = cli::phrase_boxes(args, "phrase", "box", /*check_range=*/false);
  if (!boxes.empty()) l.boxes = boxes;
  if (args.has("box-beta")) {
    if (boxes.empty())
      throw Error("--box-beta sets the beta of the --box before it: give the boxes with --phrase/--box");
    cli::apply_box_betas(args, "box", "box-beta", l.boxes);
  }
  if (args.has("seed"))
    l.seed = static_cast<std::uint64_t>(args.get_int("seed", 0, 0, std::numeric_limits<long long>::max()));
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
  // The shipped shapes demo model, when no layout file or flag names one.
  if (l.model.empty()) l.model = require_default_model("--model DIR is required (a diffusers GLIGEN pipeline folder)");
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
  if (args.has("keep-weights") && args.has("weight-release") && args.get_string("weight-release", "") != "never") {
    throw Error("--keep-weights and --weight-release " + args.get_string("weight-release", "") +
                " contradict each other; give one of them");
  }
  o.weight_release = args.has("keep-weights")
                         ? gligen::io::WeightRelease::Never
                         : gligen::io::parse_weight_release(args.get_string("weight-release", "auto"));
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
  if (args.has("threads")) gligen::io::configure_cpu_runtime(static_cast<int>(args.get_int("threads", 1, 1, 1024)));
  const bool events = args.has("events");
  ProgressReporter progress("generate", events);
  const PipelineOptions options = options_from_args(args);
  auto pipe = GligenPipeline::load(layout.model, layout.unet, options, [&](const std::string& s) { progress.log(s); });
  if (options.device.is_cpu()) {
    const auto available = gligen::io::available_memory_bytes();
    std::ostringstream note;
    note << std::fixed << std::setprecision(2) << "weights " << double(pipe->weight_bytes()) / (1 << 30)
         << " GiB, weight release " << gligen::io::to_string(options.weight_release) << ": "
         << (pipe->releasing_weights() ? "released after use" : "kept resident");
    if (available) note << " (available memory " << double(*available) / (1 << 30) << " GiB)";
    progress.log(note.str());
  }
  if (layout.beta < 0) {
    std::ostringstream note;
    note << "beta " << effective_beta(layout.beta, pipe->default_beta())
         << (pipe->default_beta() ? " (the model's default; --beta sets another)"
                                  : " (the default; --beta sets another)");
    progress.log(note.str());
  }
  const int max_tries = static_cast<int>(args.get_int("max-tries", 1, 1, 1000));
  const bool check = args.has("check") || max_tries > 1;
  std::unique_ptr<detect::GroundingDino> detector;
  detect::CheckOptions check_options;
  check_options.iou_threshold = args.get_double("check-iou", 0.5, 0.0, 1.0);
  const std::string detector_dir = args.get_string("detector", "");
  if (check) {
    if (detector_dir.empty()) {
      throw Error(
          std::string(max_tries > 1 ? "--max-tries" : "--check") +
          " needs a detector: give --detector DIR (a Grounding DINO folder, e.g. IDEA-Research/grounding-dino-base)");
    }
    if (max_tries > 1 && layout.batch > 1) throw Error("--max-tries works on one image at a time: use --batch 1");
    detector = std::make_unique<detect::GroundingDino>(detect::GroundingDino::load(detector_dir));
  }
  std::vector<detect::PhraseBox> phrase_boxes;
  for (size_t i = 0; i < layout.boxes.size(); ++i) {
    const auto& b = layout.boxes[i];
    if (b.enabled) phrase_boxes.push_back({b.phrase, {b.x0, b.y0, b.x1, b.y1}, static_cast<int>(i)});
  }

  GenerationCallbacks cb;
  cb.progress = [&](int done, int total) { progress.update(done, total); };
  cb.warning = [&](const std::string& w) { progress.log("warning: " + w); };
  cb.cancelled = [] { return StopSignalScope::requested(); };
  GenerationResult best;
  std::vector<detect::GroundingCheckResult> best_checks;
  double best_fraction = -1;
  std::uint64_t first_seed = 0;
  for (int attempt = 0; attempt < max_tries; ++attempt) {
    GenerationRequest request;
    request.layout = layout;
    // Try k uses the first try's seed + k (the first seed is recorded in its layout).
    if (attempt > 0) request.layout.seed = first_seed + static_cast<std::uint64_t>(attempt);
    GenerationResult result;
    {
      StopSignalScope stop(progress, StopSignalScope::Signals::Interrupt);
      result = pipe->generate(request, cb);
    }
    if (attempt == 0) first_seed = result.layout.seed.value_or(0);
    std::vector<detect::GroundingCheckResult> checks;
    double fraction = 0;
    if (check) {
      for (const auto& im : result.rgb()) {
        data::Rgb8Image image{im.width, im.height, im.pixels};
        auto c = detect::check_grounding(*detector, image, phrase_boxes, check_options);
        c.detector = detector_dir;
        fraction += c.fraction_found;
        checks.push_back(std::move(c));
      }
      fraction /= static_cast<double>(checks.size());
      std::ostringstream line;
      line << "try " << attempt + 1 << " (seed " << result.layout.seed.value_or(0) << "): " << fraction * 100
           << "% of the boxes found";
      if (checks.size() == 1) {
        line << " [";
        for (size_t k = 0; k < checks[0].boxes.size(); ++k) {
          const auto& b = checks[0].boxes[k];
          line << (k ? ", " : "") << b.phrase << ": " << (b.found ? "found" : "missed") << " IoU " << b.iou;
        }
        line << "]";
      }
      if (events) {
        nlohmann::json e = {
            {"try", attempt + 1}, {"seed", result.layout.seed.value_or(0)}, {"fraction_found", fraction}};
        nlohmann::json cj = nlohmann::json::array();
        for (const auto& c : checks) cj.push_back(detect::grounding_check_to_json(c));
        e["checks"] = cj;
        progress.event("check", e.dump().substr(1, e.dump().size() - 2));
      } else {
        progress.log(line.str());
      }
    }
    if (fraction > best_fraction) {
      best_fraction = fraction;
      best = std::move(result);
      best_checks = std::move(checks);
    }
    if (!check || best_fraction >= 1.0 || StopSignalScope::requested()) break;
  }
  if (check && max_tries > 1) progress.log("kept seed " + std::to_string(best.layout.seed.value_or(0)));

  const std::string layout_json = layout_to_json(best.layout);
  auto images = best.rgb();
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string path = output_path(out, static_cast<int>(i), static_cast<int>(images.size()));
    std::string json = layout_json;
    if (i < best_checks.size()) {
      // The check travels with the layout: an extra key that layout readers leave alone.
      auto j = nlohmann::json::parse(layout_json);
      j["grounding_check"] = detect::grounding_check_to_json(best_checks[i]);
      json = j.dump(2);
    }
    write_png(path, images[i], {{kLayoutPngKey, json}});
    if (events) {
      progress.event("image", "\"path\":" + nlohmann::json(path).dump());
    } else {
      std::cout << path << "\n";
    }
  }
  const GenerationResult& result = best;
  progress.event("done", "\"seed\":" + std::to_string(result.layout.seed.value_or(0)));
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("generate", "generate images from a prompt and (phrase, box) pairs", run_generate, 10);

}  // namespace gligen::trainer
