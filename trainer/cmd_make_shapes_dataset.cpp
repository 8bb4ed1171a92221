// `gligen-trainer make-shapes-dataset`: a synthetic grounded dataset of coloured shapes (core/shapes),
// into the annotation store and the seed's .pth format, with CLIP phrase embeddings and an optional
// set of held-out layouts for evaluation.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/shapes/shapes_dataset.h"
#include "core/train/run_directory.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

namespace fs = std::filesystem;

// "MIN,MAX" of two numbers.
std::pair<double, double> parse_range(const cli::Args& args, const std::string& flag,
                                      std::pair<double, double> fallback) {
  if (!args.has(flag)) return fallback;
  const std::string text = args.get_string(flag, "");
  std::istringstream in(text);
  std::string a, b, rest;
  const auto bad = [&] { return Error("--" + flag + " '" + text + "' must be two comma-separated numbers MIN,MAX"); };
  if (!std::getline(in, a, ',') || !std::getline(in, b, ',') || std::getline(in, rest, ',')) throw bad();
  try {
    size_t used_a = 0, used_b = 0;
    const double lo = std::stod(a, &used_a), hi = std::stod(b, &used_b);
    if (used_a != a.size() || used_b != b.size()) throw bad();
    return {lo, hi};
  } catch (const std::logic_error&) {
    throw bad();
  }
}

int run_make_shapes_dataset(const std::vector<std::string>& argv) {
  cli::Parser p(
      "gligen-trainer make-shapes-dataset",
      "Draw a synthetic grounded dataset: images of 1-3 coloured shapes (circle, square, triangle, star in red,\n"
      "green, blue, yellow, orange, purple) on nearly grey backgrounds (plain, gentle gradient, light noise),\n"
      "each shape with its tight box and phrase (\"a red circle\"), each image with a caption (\"a red circle and\n"
      "a blue square\"). Written into DIR/shapes.sqlite (the annotation store: review it in the studio, export\n"
      "it with 'dataset export'), DIR/images/ and DIR/shapes.pth (the seed's format, for 'train'), with the\n"
      "phrases' CLIP text embeddings. Image i depends only on the settings, the seed and i: the same command\n"
      "gives the same bytes, a stopped run continues, a larger --count extends the dataset.\n"
      "--heldout-layouts writes layouts for evaluation from a random stream disjoint from the training one.",
      "gligen-trainer make-shapes-dataset --out DIR --count N --seed S (--text-encoder DIR | --model DIR) [options]");
  p.flag({"out", "DIR", "output folder (created when missing)", ""})
      .flag({"count", "N", "images in the dataset", ""})
      .flag({"seed", "S", "random seed of the whole dataset", "0"})
      .flag({"size", "N", "image width and height in pixels (multiple of 8, 32..1024)", "64"})
      .flag({"min-shapes", "N", "fewest shapes per image", "1"})
      .flag({"max-shapes", "N", "most shapes per image (fewer when they do not fit)", "3"})
      .flag({"extent", "MIN,MAX", "shape size as a fraction of the image side", "0.22,0.45"})
      .flag({"colours", "LIST", "comma-separated colours to use", "red,green,blue,yellow,orange,purple"})
      .flag({"shapes", "LIST", "comma-separated shapes to use", "circle,square,triangle,star"})
      .flag({"text-encoder", "DIR",
             "CLIP text encoder for the phrase embeddings: a released CLIP folder or a diffusers "
             "pipeline folder",
             ""})
      .flag({"model", "DIR", "diffusers pipeline folder whose text_encoder/ and tokenizer/ embed the phrases", ""})
      .flag({"heldout-layouts", "FILE", "also write held-out layouts (a gligen-layout-set JSON file)", ""})
      .flag({"heldout-count", "N", "how many held-out layouts", "128"})
      .flag({"device", "DEV", "cpu, cuda or cuda:N for the text encoder", "cpu"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"output-dir", "DIR", "run folder: run.json, events.jsonl, log.txt", "DIR/run"})
      .flag({"events", "", "print JSON lines instead of a progress bar", ""});
  auto args = p.parse(argv);
  if (!args) return 0;

  shapes::ShapesDatasetOptions o;
  o.out_dir = args->get_string("out", "");
  if (o.out_dir.empty()) throw Error("--out DIR is required (the folder to write the dataset into)");
  if (fs::exists(o.out_dir) && !fs::is_directory(o.out_dir)) {
    throw Error("--out '" + o.out_dir + "' is a file, not a folder: give the folder to write the dataset into");
  }
  if (!args->has("count")) throw Error("--count N is required (how many images to draw)");
  o.count = args->get_int("count", 0, 1, 100000000);
  o.seed = static_cast<std::uint64_t>(args->get_int("seed", 0, 0, (1LL << 53)));
  o.drawing.size = static_cast<int>(args->get_int("size", 64, 32, 1024));
  o.drawing.min_shapes = static_cast<int>(args->get_int("min-shapes", 1, 1, 8));
  o.drawing.max_shapes = static_cast<int>(args->get_int("max-shapes", 3, 1, 8));
  if (o.drawing.max_shapes < o.drawing.min_shapes) {
    throw Error("--max-shapes " + std::to_string(o.drawing.max_shapes) + " is below --min-shapes " +
                std::to_string(o.drawing.min_shapes));
  }
  const auto extent = parse_range(*args, "extent", {o.drawing.min_extent, o.drawing.max_extent});
  o.drawing.min_extent = extent.first;
  o.drawing.max_extent = extent.second;
  if (args->has("colours")) o.drawing.colours = shapes::parse_colour_list(args->get_string("colours", ""), "--colours");
  if (args->has("shapes")) o.drawing.kinds = shapes::parse_shape_list(args->get_string("shapes", ""), "--shapes");
  try {
    shapes::validate_drawing_options(o.drawing);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (see --size, --min-shapes/--max-shapes and --extent)");
  }
  const std::string encoder = args->get_string("text-encoder", ""), model = args->get_string("model", "");
  if (!encoder.empty() && !model.empty()) throw Error("give either --text-encoder or --model, not both");
  if (encoder.empty() && model.empty()) {
    throw Error("--text-encoder DIR or --model DIR is required: the phrases' CLIP text embeddings go into the dataset");
  }
  o.text_encoder = encoder.empty() ? model : encoder;
  o.heldout_path = args->get_string("heldout-layouts", "");
  o.heldout_count = static_cast<int>(args->get_int("heldout-count", 128, 1, 1000000));
  if (args->has("heldout-count") && o.heldout_path.empty()) {
    throw Error("--heldout-count needs --heldout-layouts FILE (where to write them)");
  }
  o.device = args->get_string("device", "cpu");
  if (args->has("threads")) at::set_num_threads(static_cast<int>(args->get_int("threads", 1, 1, 1024)));
  const bool events = args->has("events");

  train::RunDirectory run(args->get_string("output-dir", (fs::path(o.out_dir) / "run").string()), true);
  ProgressReporter progress("shapes", events);
  run.echo = [&](const std::string&, const nlohmann::json& line) {
    if (events) std::cout << line.dump() << "\n" << std::flush;
  };
  o.log = [&](const std::string& m) {
    run.log(m);
    if (!events) progress.log(m);
  };
  nlohmann::json config = {{"command", "make-shapes-dataset"},
                           {"out", o.out_dir},
                           {"count", o.count},
                           {"generator", shapes::shapes_generator_settings(o.drawing, o.seed)},
                           {"text_encoder", o.text_encoder},
                           {"heldout_layouts", o.heldout_path},
                           {"heldout_count", o.heldout_path.empty() ? 0 : o.heldout_count},
                           {"device", o.device}};
  run.write_run_json(config);
  o.on_image = [&](std::int64_t done, std::int64_t todo) {
    if (done % 64 == 0 || done == todo) {
      run.event("progress", {{"stage", "draw"}, {"images_done", done}, {"images_total", todo}});
    }
    if (!events) progress.update(static_cast<long>(done), static_cast<long>(todo));
  };
  o.on_embed = [&](std::int64_t done, std::int64_t total) {
    run.event("progress", {{"stage", "embed"}, {"boxes_done", done}, {"boxes_total", total}});
    if (!events) progress.update(static_cast<long>(done), static_cast<long>(total));
  };
  o.stop = StopSignalScope::flag();

  try {
    shapes::ShapesDatasetReport r;
    {
      StopSignalScope stop(progress, StopSignalScope::Signals::InterruptAndTerminate);
      r = shapes::make_shapes_dataset(o);
    }
    progress.finish();
    run.event("done", {{"images", r.images},
                       {"drawn", r.drawn},
                       {"already_done", r.already_done},
                       {"boxes", r.boxes},
                       {"embedded", r.embedded},
                       {"embedding_dim", r.embedding_dim},
                       {"db", r.db_path},
                       {"pth", r.pth_path},
                       {"exported_images", r.exported_images},
                       {"exported_boxes", r.exported_boxes},
                       {"heldout_layouts", r.heldout_path},
                       {"heldout_count", r.heldout_layouts},
                       {"heldout_boxes", r.heldout_boxes},
                       {"stopped", r.stopped}});
    run.log(r.summary());
    if (!events) std::cout << r.summary() << "\n";
    return r.stopped ? 130 : 0;
  } catch (const std::exception& e) {
    run.event("error", {{"message", e.what()}});
    throw;
  }
}

}  // namespace

GLIGEN_TRAINER_COMMAND("make-shapes-dataset",
                       "draw a synthetic dataset of coloured shapes with boxes and phrases (and held-out layouts)",
                       run_make_shapes_dataset, 36);

}  // namespace gligen::trainer
