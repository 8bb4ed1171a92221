// `gligen-trainer shapes-eval`: the grounding check of a shapes-world model on held-out layouts
// (make-shapes-dataset --heldout-layouts): box hit rate with the boxes, and the control without
// them, read by the deterministic colour/shape checker (core/shapes/shape_checker.h).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/io/device_options.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/model_folder.h"
#include "core/pipeline/png_io.h"
#include "core/train/shapes_validation.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"

namespace gligen::trainer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

cli::Parser make_parser() {
  cli::Parser p("gligen-trainer shapes-eval",
                "Generate held-out shapes layouts with a model and count the boxes whose object came out in them\n"
                "(right colour, IoU >= --iou), with the deterministic colour/shape checker. --no-boxes-control also\n"
                "generates every layout from its prompt alone: the objects should still appear, but rarely in the\n"
                "boxes. Prints the rates; --out writes report.json and the images as grids.",
                "gligen-trainer shapes-eval --layouts FILE [--model DIR] [options]");
  p.flag({"model", "DIR", "diffusers GLIGEN pipeline folder", "the shipped shapes demo model"})
      .flag({"layouts", "FILE", "held-out layouts (make-shapes-dataset --heldout-layouts)", ""})
      .flag({"count", "N", "check the first N layouts", "all"})
      .flag({"steps", "N", "denoising steps", "each layout's"})
      .flag({"beta", "F", "scheduled sampling: grounding on for this fraction of the steps",
             "each layout's, else the model's own default"})
      .flag({"size", "N", "image size", "each layout's"})
      .flag({"guidance", "F", "classifier-free guidance scale (1: none)", "each layout's"})
      .flag({"iou", "F", "a box is hit when its colour's object overlaps it this much", "0.5"})
      .flag({"no-boxes-control", "", "also generate every layout without its boxes", ""})
      .flag({"max-tries", "N",
             "generate until grounded: up to N seeds per layout (its seed, +1, ...), keep the try with the most "
             "boxes hit, stop when all are; the report gives the first try's hit rate beside the kept one",
             "1"})
      .flag({"out", "DIR", "write report.json, boxes.png and (with the control) no-boxes.png here", ""})
      .flag({"device", "DEV", "cpu, cuda or cuda:N", "cpu"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"json", "", "print the report as JSON on stdout", ""});
  return p;
}

// Rows of up to 16 images.
RgbImage grid(const std::vector<RgbImage>& images) {
  RgbImage g;
  if (images.empty()) return g;
  const int cols = static_cast<int>(std::min<size_t>(16, images.size()));
  const int rows = static_cast<int>((images.size() + cols - 1) / cols);
  const int w = images[0].width, h = images[0].height;
  g.width = cols * w;
  g.height = rows * h;
  g.pixels.assign(static_cast<size_t>(g.width) * g.height * 3, 255);
  for (size_t i = 0; i < images.size(); ++i) {
    const int ox = static_cast<int>(i % cols) * w, oy = static_cast<int>(i / cols) * h;
    const auto& im = images[i];
    for (int y = 0; y < std::min(h, im.height); ++y)
      std::copy_n(&im.pixels[static_cast<size_t>(y) * im.width * 3], std::min(w, im.width) * 3,
                  &g.pixels[(static_cast<size_t>(oy + y) * g.width + ox) * 3]);
  }
  return g;
}

int run_shapes_eval(const std::vector<std::string>& argv) {
  auto parsed = make_parser().parse(argv);
  if (!parsed) return 0;
  const cli::Args& a = *parsed;
  if (!a.positional().empty()) throw Error("unexpected argument '" + a.positional()[0] + "'");
  if (a.has("threads")) io::configure_cpu_runtime(static_cast<int>(a.get_int("threads", 1, 1, 1024)));
  std::string model = a.get_string("model", "");
  if (model.empty()) model = require_default_model("--model DIR is required");
  const std::string layouts = a.get_string("layouts", "");
  if (layouts.empty()) throw Error("--layouts FILE is required (make-shapes-dataset --heldout-layouts writes one)");
  const int count = static_cast<int>(a.get_int("count", 1 << 30, 1, 1 << 30));
  train::ShapesValidationOptions o;
  o.size = static_cast<int>(a.get_int("size", 0, 8, 4096));
  o.steps = static_cast<int>(a.get_int("steps", 0, 1, 1000));
  o.beta = a.has("beta") ? a.get_double("beta", 1.0, 0.0, 1.0) : -1.0;
  o.iou_threshold = a.get_double("iou", 0.5, 1e-6, 1.0);
  o.guidance = a.has("guidance") ? a.get_double("guidance", 7.5, 0.0, 100.0) : -1.0;
  o.max_tries = static_cast<int>(a.get_int("max-tries", 1, 1, 1000));
  const std::string out = a.get_string("out", "");
  const bool json = a.has("json");

  require_loadable_model_folder(model);
  const auto set = train::read_shapes_heldout(layouts, count);
  PipelineOptions popt;
  popt.device = io::parse_device(a.get_string("device", "cpu"));
  auto pipe = GligenPipeline::load(model, "", popt);

  ProgressReporter progress("shapes-eval", false);
  if (!json)
    progress.log("model " + model + ": " + std::to_string(set.layouts.size()) + " layouts, " +
                 std::to_string(set.boxes) + " boxes");
  if (!json && o.beta < 0 && pipe->default_beta()) {
    std::ostringstream note;
    note << "beta: each layout's, else the model's default " << *pipe->default_beta();
    progress.log(note.str());
  }
  auto t0 = Clock::now();
  const auto boxes = train::run_shapes_validation(*pipe, set, o);
  const double boxes_s = std::chrono::duration<double>(Clock::now() - t0).count();
  nlohmann::json report = {{"model", model},
                           {"layouts_file", layouts},
                           {"layouts", boxes.layouts},
                           {"boxes", boxes.boxes},
                           {"found", boxes.found},
                           {"found_with_shape", boxes.found_with_shape},
                           {"hit_rate", boxes.hit_rate},
                           {"shape_rate", boxes.boxes ? double(boxes.found_with_shape) / boxes.boxes : 1.0},
                           {"iou_threshold", o.iou_threshold},
                           {"seconds_per_image", boxes.layouts ? boxes_s / boxes.layouts : 0.0}};
  if (o.max_tries > 1) {
    report["max_tries"] = o.max_tries;
    report["tries"] = boxes.tries;
    report["first_try_found"] = boxes.first_try_found;
    report["first_try_hit_rate"] = boxes.first_try_hit_rate;
    report["seconds_per_image"] = boxes.tries ? boxes_s / boxes.tries : 0.0;
  }
  if (o.steps > 0) report["steps"] = o.steps;
  if (o.beta >= 0) report["beta"] = o.beta;
  if (pipe->default_beta()) report["model_default_beta"] = *pipe->default_beta();
  if (o.guidance >= 0) report["guidance"] = o.guidance;
  train::ShapesControlResult control;
  if (a.has("no-boxes-control")) {
    control = train::run_shapes_control(*pipe, set, o);
    report["control"] = {{"phrases", control.phrases},
                         {"appeared", control.appeared},
                         {"appeared_rate", control.appeared_rate},
                         {"in_box", control.in_box},
                         {"in_box_rate", control.in_box_rate}};
  }
  if (!out.empty()) {
    fs::create_directories(out);
    write_png((fs::path(out) / "boxes.png").string(), grid(boxes.images));
    if (!control.images.empty()) write_png((fs::path(out) / "no-boxes.png").string(), grid(control.images));
    std::ofstream(fs::path(out) / "report.json") << report.dump(2) << "\n";
  }
  if (json) {
    std::cout << report.dump() << std::endl;
  } else {
    char line[512];
    std::snprintf(line, sizeof line,
                  "with boxes: %d of %d boxes hit (%.1f%%; right shape too: %.1f%%), %.2f s per image", boxes.found,
                  boxes.boxes, 100.0 * boxes.hit_rate, 100.0 * report["shape_rate"].get<double>(),
                  report["seconds_per_image"].get<double>());
    std::cout << line << "\n";
    if (o.max_tries > 1) {
      std::snprintf(line, sizeof line,
                    "first try alone: %d of %d boxes hit (%.1f%%); up to %d tries: %.1f%% (%.2f tries per layout)",
                    boxes.first_try_found, boxes.boxes, 100.0 * boxes.first_try_hit_rate, o.max_tries,
                    100.0 * boxes.hit_rate, boxes.layouts ? double(boxes.tries) / boxes.layouts : 0.0);
      std::cout << line << "\n";
    }
    if (a.has("no-boxes-control")) {
      std::snprintf(line, sizeof line, "without boxes: %d of %d objects appeared (%.1f%%), %d in their box (%.1f%%)",
                    control.appeared, control.phrases, 100.0 * control.appeared_rate, control.in_box,
                    100.0 * control.in_box_rate);
      std::cout << line << "\n";
    }
  }
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("shapes-eval",
                       "grounding check of a shapes model: box hit rate on held-out layouts (and without boxes)",
                       run_shapes_eval, 37);

}  // namespace gligen::trainer
