// gligen-detect-bench: seconds per image of the Grounding DINO detector, as JSON.
//   gligen-detect-bench --detector DIR [--size 640x480 | --image FILE] [--text "..."] [--runs 3]
//                       [--threads N] [--device cpu|cuda] [--dtype float32|float16|bfloat16]
// The default input is what the dataset job sees for a COCO-sized photo: a 640x480 image (resized
// to 800x1066 by the processor) and a seven-phrase RAM tag text. Each run is a full detect():
// preprocessing, the network, post-processing and NMS; the network time is reported separately,
// and so is the process CPU time per image (meaningful when other work shares the machine).
// Make a full-size model without downloads with `gligen-trainer init-model --preset grounding-dino-base`.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/detect/grounding_dino.h"
#include "core/util/error.h"
#include "core/io/device_options.h"
#include "trainer/bench/bench_util.h"
#include "trainer/cli.h"

namespace {

using namespace gligen::bench;

int run(const std::vector<std::string>& argv) {
  gligen::cli::Parser p("gligen-detect-bench", "Time the Grounding DINO detector (prints JSON).",
                        "gligen-detect-bench --detector DIR [--size WxH | --image FILE] [--runs N] [--threads N]");
  p.flag({"detector", "DIR", "Grounding DINO folder", ""})
      .flag({"size", "WxH", "synthetic image size", "640x480"})
      .flag({"image", "FILE", "use this image instead of a synthetic one", ""})
      .flag({"text", "TEXT", "detector text", "car. person. road. skateboard. tree. white building. sky"})
      .flag({"runs", "N", "timed runs after one warm-up", "3"})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"device", "NAME", "cpu or cuda[:N]", "cpu"})
      .flag({"dtype", "NAME", "float32, float16 or bfloat16", "float32"});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string dir = args->get_string("detector", "");
  if (dir.empty()) throw gligen::Error("--detector DIR is required");
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  gligen::io::configure_cpu_runtime(threads);
  const int runs = static_cast<int>(args->get_int("runs", 3, 1, 1000));
  const torch::Device device = gligen::io::parse_device(args->get_string("device", "cpu"));
  const std::string dtype_name = args->get_string("dtype", "float32");
  const torch::ScalarType dtype = gligen::io::parse_dtype(dtype_name);

  gligen::data::Rgb8Image image;
  if (args->has("image")) {
    image = gligen::detect::load_image_rgb(args->get_string("image", ""));
  } else {
    int w = 0, h = 0;
    char x = 0;
    std::istringstream ss(args->get_string("size", "640x480"));
    if (!(ss >> w >> x >> h) || x != 'x' || w <= 0 || h <= 0) throw gligen::Error("--size must be WxH, e.g. 640x480");
    image.width = w;
    image.height = h;
    image.pixels.resize(size_t(w) * h * 3);
    std::mt19937 rng(1);
    for (auto& v : image.pixels) v = static_cast<std::uint8_t>(rng() & 0xFF);
  }
  const std::string text = args->get_string("text", "car. person. road. skateboard. tree. white building. sky");

  auto t0 = Clock::now();
  const auto dino = gligen::detect::GroundingDino::load(dir, device, dtype);
  const double load_s = seconds_since(t0);

  std::vector<double> total, network, cpu;
  gligen::detect::DetectionRun last;
  for (int i = 0; i <= runs; ++i) {
    sync(device);
    const auto start = Clock::now();
    const double c0 = cpu_seconds();
    auto r = dino.run(image, text);
    sync(device);
    const double s = seconds_since(start);
    const double c = cpu_seconds() - c0;
    // The network alone: the same inputs again.
    torch::NoGradGuard no_grad;
    gligen::detect::GroundingDinoInputs in;
    in.pixel_values = r.image.pixel_values.to(device, dtype);
    in.input_ids = r.text.input_ids.to(device);
    sync(device);
    const auto n0 = Clock::now();
    dino.model()->forward(in);
    sync(device);
    const double n = seconds_since(n0);
    if (i > 0) {  // run 0 is the warm-up
      total.push_back(s);
      network.push_back(n);
      cpu.push_back(c);
    }
    last = std::move(r);
  }
  // Where the network's time goes: the Swin backbone and the BERT text encoder alone; the rest is
  // the projections, the encoder (fusion, text enhancer, deformable attention), proposals and decoder.
  std::vector<double> backbone, text_encoder;
  {
    torch::NoGradGuard no_grad;
    auto& m = *dino.model()->model;
    const auto px = last.image.pixel_values.to(device, dtype);
    const auto ids = last.text.input_ids.to(device);
    const auto masks = gligen::detect::grounding_dino_text_masks(ids);
    for (int i = 0; i < runs; ++i) {
      sync(device);
      auto b0 = Clock::now();
      m.backbone->forward(px);
      sync(device);
      backbone.push_back(seconds_since(b0));
      auto t0b = Clock::now();
      m.text_backbone->forward(ids, masks.first, {}, masks.second);
      sync(device);
      text_encoder.push_back(seconds_since(t0b));
    }
  }
  nlohmann::json out = {
      {"detector", dir},
      {"device", device.str()},
      {"dtype", dtype_name},
      {"threads", torch::get_num_threads()},
      {"image", std::to_string(image.width) + "x" + std::to_string(image.height)},
      {"pixel_values", std::to_string(last.image.resized.width) + "x" + std::to_string(last.image.resized.height)},
      {"tokens", last.text.ids.size()},
      {"num_queries", dino.config().num_queries},
      {"load_s", load_s},
      {"seconds_per_image", median(total)},
      {"cpu_seconds_per_image", median(cpu)},
      {"network_s", median(network)},
      {"swin_backbone_s", median(backbone)},
      {"bert_text_s", median(text_encoder)},
      {"runs_s", total},
      {"detections", last.detections.size()},
      {"peak_rss_mib", peak_rss_mib()}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const gligen::Error& e) {
    std::cerr << "gligen-detect-bench: error: " << e.what() << "\n";
    return 2;
  }
}
