// `gligen-trainer caption`: BLIP-2 captions of boxes of one image, as the dataset job computes
// them for each detection (the seed's make_datasets.py: processor(images=image.crop(box)), then
// generate and decode). A debugging aid for the captioning step, and handy on its own.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/detect/grounding_dino_processor.h"
#include "core/nets/blip2_captioner.h"
#include "core/io/device_options.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

// "x0,y0,x1,y1" in pixels: four finite numbers (decimal or hex floats), x0 < x1 and y0 < y1.
data::CropBox parse_pixel_box(const std::string& text) {
  const std::string usage = "--box '" + text +
                            "': expected four pixel coordinates x0,y0,x1,y1 (left, top, right, bottom; "
                            "floats, as `detect --json` prints them), e.g. --box 12.5,30,200,180.4";
  double v[4];
  int n = 0;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (n == 4) throw Error(usage + " (more than four numbers given)");
    const char* begin = part.c_str();
    char* end = nullptr;
    v[n] = std::strtod(begin, &end);
    while (end && *end == ' ') ++end;
    if (end == begin || *end != '\0' || !std::isfinite(v[n])) throw Error(usage + " ('" + part + "' is not a number)");
    ++n;
  }
  if (n != 4) throw Error(usage);
  if (!(v[0] < v[2] && v[1] < v[3])) throw Error(usage + " (the right edge must exceed the left, the bottom the top)");
  return {v[0], v[1], v[2], v[3]};
}

int run_caption(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer caption",
                "Caption boxes of an image with BLIP-2 (a Hugging Face Blip2ForConditionalGeneration folder with a\n"
                "Flan-T5 language model, e.g. Salesforce/blip2-flan-t5-xxl), as the dataset job captions each\n"
                "detected box. Boxes are x0,y0,x1,y1 in pixels of the image; without --box the whole image is\n"
                "captioned. All boxes run as one batch.",
                "gligen-trainer caption --captioner DIR --image FILE [--box x0,y0,x1,y1 ...] [--json]");
  p.flag({"captioner", "DIR", "BLIP-2 folder (config.json, model*.safetensors, preprocessor_config.json, spiece.model)",
          ""})
      .flag({"image", "FILE", "the image (PNG, JPEG, ...)", ""})
      .flag({"box", "x0,y0,x1,y1", "a box in pixels (floats); may reach outside the image (that part is black)", "",
             true})
      .flag({"device", "NAME", "cpu or cuda[:N]", "cpu"})
      .flag({"precision", "NAME",
             "fp32, fp16 or bf16 (fp16 needs CUDA; T5's feed-forward output weights stay fp32 in fp16 as in "
             "transformers)",
             "fp32"})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"max-batch", "N", "crops per forward pass (0: all boxes at once)", "0"})
      .flag({"json", "", "print one JSON array of {\"box\", \"caption\"}", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string folder = args->get_string("captioner", "");
  const std::string image_path = args->get_string("image", "");
  if (folder.empty())
    throw Error("--captioner DIR is required (a downloaded BLIP-2 folder, e.g. Salesforce/blip2-flan-t5-xxl)");
  if (image_path.empty()) throw Error("--image FILE is required");
  std::vector<data::CropBox> boxes;
  for (const auto& text : args->all("box")) boxes.push_back(parse_pixel_box(text));
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  const int64_t max_batch = args->get_int("max-batch", 0, 0, 1 << 20);

  const torch::Device device = io::parse_device(args->get_string("device", "cpu"));
  const std::string precision = args->get_string("precision", "fp32");
  const torch::ScalarType dtype = io::parse_dtype(precision, "--precision");
  if (dtype == torch::kFloat16 && !device.is_cuda()) {
    throw Error(
        "--precision fp16 needs --device cuda (LibTorch has no float16 kernels for the CPU); "
        "use fp32 or bf16 on the CPU");
  }
  gligen::io::configure_cpu_runtime(threads);

  const auto image = detect::load_image_rgb(image_path);
  if (boxes.empty()) boxes.push_back({0.0, 0.0, double(image.width), double(image.height)});
  auto captioner = nets::Blip2Captioner::load(folder, device, dtype);
  captioner.set_max_batch(max_batch);
  const auto captions = captioner.caption(image, boxes);

  if (args->has("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < boxes.size(); ++i) {
      const auto& b = boxes[i];
      out.push_back({{"box", {b.left, b.top, b.right, b.bottom}}, {"caption", captions[i]}});
    }
    std::cout << out.dump() << "\n";
  } else {
    for (size_t i = 0; i < boxes.size(); ++i) {
      const auto& b = boxes[i];
      char line[160];
      std::snprintf(line, sizeof line, "[%8.1f %8.1f %8.1f %8.1f]  ", b.left, b.top, b.right, b.bottom);
      std::cout << line << captions[i] << "\n";
    }
  }
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("caption", "caption boxes of an image with BLIP-2 (Flan-T5)", run_caption, 46);

}  // namespace gligen::trainer
