// gligen-caption-bench: seconds per caption of the BLIP-2 (Flan-T5) captioner, as JSON.
//   gligen-caption-bench --captioner DIR [--image FILE | --size 640x480] [--boxes N] [--runs 3] [--warmup 1]
//                        [--threads N] [--device cpu|cuda] [--precision fp32|fp16|bf16]
// Each run captions N boxes of one image as one batch, as the dataset job does for the detections
// of an image: crop, PIL-exact resize, the ViT, the Q-Former, the T5 encoder and greedy decoding,
// then decoding to text; the image stage (everything up to the T5 encoder output) and the greedy
// decoding are reported separately too. Weights are memory-mapped (copy-on-write, shared with the
// page cache while unwritten) when the file's dtype is the one asked for, else converted copies;
// the peak RSS is reported. Random-weight folders (init-model --preset blip2-flan-t5-xl) usually generate the
// full 19 new tokens; real captions stop earlier, so their decoding is shorter.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/detect/grounding_dino_processor.h"
#include "core/nets/blip2_captioner.h"
#include "core/util/error.h"
#include "core/io/device_options.h"
#include "trainer/bench/bench_util.h"
#include "trainer/cli.h"

namespace {

using namespace gligen::bench;

int run(const std::vector<std::string>& argv) {
  gligen::cli::Parser p("gligen-caption-bench", "Time the BLIP-2 captioner (prints JSON).",
                        "gligen-caption-bench --captioner DIR [--image FILE | --size WxH] [--boxes N] [--runs N]");
  p.flag({"captioner", "DIR", "BLIP-2 folder (a download, or init-model --preset blip2-flan-t5-xl)", ""})
      .flag({"size", "WxH", "synthetic image size", "640x480"})
      .flag({"image", "FILE", "use this image instead of a synthetic one", ""})
      .flag({"boxes", "N", "boxes captioned per run, as one batch", "1"})
      .flag({"runs", "N", "timed runs", "3"})
      .flag({"warmup", "N", "untimed runs first", "1"})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"device", "NAME", "cpu or cuda[:N]", "cpu"})
      .flag({"precision", "NAME", "fp32, fp16 (CUDA) or bf16", "fp32"});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string dir = args->get_string("captioner", "");
  if (dir.empty()) throw gligen::Error("--captioner DIR is required");
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  gligen::io::configure_cpu_runtime(threads);
  const int runs = static_cast<int>(args->get_int("runs", 3, 1, 1000));
  const int warmup = static_cast<int>(args->get_int("warmup", 1, 0, 1000));
  const int boxes_n = static_cast<int>(args->get_int("boxes", 1, 1, 4096));
  const torch::Device device = gligen::io::parse_device(args->get_string("device", "cpu"));
  const std::string precision = args->get_string("precision", "fp32");
  const torch::ScalarType dtype = gligen::io::parse_dtype(precision, "--precision");

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
  // Boxes of different sizes and places, as detections are.
  std::vector<gligen::data::CropBox> boxes;
  for (int i = 0; i < boxes_n; ++i) {
    const double f = 0.3 + 0.6 * double(i % 5) / 4.0;
    const double w = image.width * f, h = image.height * f;
    const double x0 = (image.width - w) * double((i * 7) % 11) / 10.0,
                 y0 = (image.height - h) * double((i * 3) % 7) / 6.0;
    boxes.push_back({x0, y0, x0 + w, y0 + h});
  }

  const double rss_before = rss_mib();
  auto t0 = Clock::now();
  auto captioner = gligen::nets::Blip2Captioner::load(dir, device, dtype);
  const double load_s = seconds_since(t0);
  const double rss_loaded = rss_mib();
  int64_t parameters = 0;
  for (const auto& p : captioner.model()->parameters()) parameters += p.numel();

  // One run is one batch of captions, timed by stage: what Blip2Captioner::caption does
  // (pixel values, then the model's generate = image stage + greedy decoding, then detokenising).
  std::vector<double> total, cpu, image_stage, decoding;
  std::vector<std::string> captions;
  int64_t new_tokens = 0;
  torch::NoGradGuard no_grad;
  const int64_t eos = captioner.model()->config().text.eos_token_id;
  for (int i = 0; i < warmup + runs; ++i) {
    sync(device);
    const auto start = Clock::now();
    const double c0 = cpu_seconds();
    const auto pixels = captioner.pixel_values(image, boxes).to(device);
    const auto e0 = Clock::now();
    const auto encoding = captioner.model()->encode(pixels);
    sync(device);
    const double e = seconds_since(e0);
    const auto g0 = Clock::now();
    const auto sequences = captioner.model()->generate_from(encoding).contiguous();
    sync(device);
    const double g = seconds_since(g0);
    captions.clear();
    for (int64_t r = 0; r < sequences.size(0); ++r) {
      std::vector<int64_t> ids;
      for (int64_t k = 0; k < sequences.size(1); ++k) {
        ids.push_back(sequences[r][k].item<int64_t>());
        if (k > 0 && ids.back() == eos) break;
      }
      captions.push_back(captioner.tokenizer().decode(ids, true));
    }
    const double s = seconds_since(start);
    const double c = cpu_seconds() - c0;
    if (i >= warmup) {
      total.push_back(s);
      cpu.push_back(c);
      image_stage.push_back(e);
      decoding.push_back(g);
    }
    new_tokens = sequences.size(1) - 1;
  }
  const double n = double(boxes.size());
  nlohmann::json out = {{"captioner", dir},
                        {"device", device.str()},
                        {"precision", precision},
                        {"threads", torch::get_num_threads()},
                        {"parameters", parameters},
                        {"image", std::to_string(image.width) + "x" + std::to_string(image.height)},
                        {"boxes_per_run", boxes.size()},
                        {"max_new_tokens_generated", new_tokens},
                        {"load_s", load_s},
                        {"seconds_per_caption", median(total) / n},
                        {"cpu_seconds_per_caption", median(cpu) / n},
                        {"image_stage_s_per_caption", median(image_stage) / n},
                        {"greedy_decoding_s_per_caption", median(decoding) / n},
                        {"runs_s", total},
                        {"warmup_runs", warmup},
                        {"rss_before_load_mib", rss_before},
                        {"rss_after_load_mib", rss_loaded},
                        {"peak_rss_mib", peak_rss_mib()},
                        {"first_caption", captions.empty() ? std::string() : captions.front()}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const gligen::Error& e) {
    std::cerr << "gligen-caption-bench: error: " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "gligen-caption-bench: LibTorch error: " << e.what_without_backtrace() << "\n";
    return 3;
  }
}
