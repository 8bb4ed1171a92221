// `gligen-trainer detect`: Grounding DINO on one image, as the dataset job runs it (the seed's
// make_datasets.py: post_process_grounded_object_detection, then torchvision NMS).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "core/io/cpu_runtime.h"
#include "core/detect/detection_drawing.h"
#include "core/detect/grounding_dino.h"
#include "core/io/device_options.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_detect(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer detect",
                "Detect the phrases of a text in an image with Grounding DINO (a Hugging Face\n"
                "GroundingDinoForObjectDetection folder, e.g. IDEA-Research/grounding-dino-base).\n"
                "Boxes are x0,y0,x1,y1 in pixels of the image, highest score first, after NMS.",
                "gligen-trainer detect --detector DIR --image FILE --text \"cat. dog\" [--json] [--draw OUT.png]");
  p.flag({"detector", "DIR", "Grounding DINO folder (config.json, model.safetensors, vocab.txt, ...)", ""})
      .flag({"image", "FILE", "the image (PNG, JPEG, ...)", ""})
      .flag({"text", "TEXT", "phrases separated by periods, as the dataset job writes them (\"cat. dog\")", ""})
      .flag({"box-threshold", "X", "keep queries whose best token probability exceeds X", "0.25"})
      .flag({"text-threshold", "X", "label tokens are those with probability above X", "0.2"})
      .flag({"nms-iou", "X", "drop boxes overlapping a better one by IoU above X; negative: no NMS", "0.5"})
      .flag({"device", "NAME", "cpu or cuda[:N]", "cpu"})
      .flag({"dtype", "NAME", "float32, float16 or bfloat16 (half precision needs CUDA)", "float32"})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"json", "", "print one JSON array of {\"box\", \"score\", \"label\"}", ""})
      .flag({"draw", "FILE", "also write the image with the boxes drawn", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string detector = args->get_string("detector", "");
  const std::string image_path = args->get_string("image", "");
  if (detector.empty()) throw Error("--detector DIR is required");
  if (image_path.empty()) throw Error("--image FILE is required");
  if (!args->has("text")) throw Error("--text is required (phrases separated by periods: \"cat. dog\")");
  const std::string text = args->get_string("text", "");
  detect::DetectOptions options;
  options.box_threshold = args->get_double("box-threshold", 0.25, 0.0, 1.0);
  options.text_threshold = args->get_double("text-threshold", 0.2, 0.0, 1.0);
  options.nms_iou = args->get_double("nms-iou", 0.5, -1.0, 1.0);
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  gligen::io::configure_cpu_runtime(threads);

  const torch::Device device = io::parse_device(args->get_string("device", "cpu"));
  const torch::ScalarType dtype = io::parse_dtype(args->get_string("dtype", "float32"));

  const auto image = detect::load_image_rgb(image_path);
  const auto dino = detect::GroundingDino::load(detector, device, dtype);
  const auto detections = dino.detect(image, text, options);

  if (args->has("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : detections) {
      out.push_back({{"box", {d.box[0], d.box[1], d.box[2], d.box[3]}}, {"score", d.score}, {"label", d.label}});
    }
    std::cout << out.dump() << "\n";
  } else {
    if (detections.empty()) std::cout << "no detections above the box threshold\n";
    for (const auto& d : detections) {
      char line[160];
      std::snprintf(line, sizeof line, "%6.3f  [%8.1f %8.1f %8.1f %8.1f]  ", d.score, d.box[0], d.box[1], d.box[2],
                    d.box[3]);
      std::cout << line << d.label << "\n";
    }
  }
  if (args->has("draw"))
    detect::write_rgb_image(args->get_string("draw", ""), detect::draw_detections(image, detections));
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("detect", "find the boxes of phrases in an image with Grounding DINO", run_detect, 45);

}  // namespace gligen::trainer
