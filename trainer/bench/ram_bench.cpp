// gligen-ram-bench: images per second of the RAM tagger (recognize-anything, Swin-L 384), as JSON.
//   gligen-ram-bench [--ram PATH] [--batches 1,8] [--runs 3] [--threads N] [--device cpu|cuda]
//                    [--dtypes float32,float16,bfloat16]
// Each timed call is a whole batch as the dataset job tags it: Pillow-exact resize of 640x480
// images to 384x384, normalisation, the network, thresholds and strings (RamTagger::tag). Without
// --ram the released architecture is built with random weights in memory and synthetic tag
// lists (no file needed; `gligen-trainer init-model --preset ram-swin-l` writes such a checkpoint).
// On CUDA the default dtypes are float32, float16 and bfloat16; on the CPU float32.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>

#include "core/io/cpu_runtime.h"
#include "core/tag/ram_tagger.h"
#include "core/util/error.h"
#include "core/io/device_options.h"
#include "trainer/bench/bench_util.h"
#include "trainer/cli.h"

namespace {

using namespace gligen::bench;

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int run(const std::vector<std::string>& argv) {
  gligen::cli::Parser p("gligen-ram-bench", "Time the RAM image tagger (prints JSON).",
                        "gligen-ram-bench [--ram PATH] [--batches 1,8] [--runs N] [--threads N] [--device cpu|cuda]");
  p.flag({"ram", "PATH", "ram_swin_large_14m.pth or its folder (default: random weights, real architecture)", ""})
      .flag({"batches", "LIST", "batch sizes to time", "1,8"})
      .flag({"size", "WxH", "synthetic image size", "640x480"})
      .flag({"runs", "N", "timed batches per batch size, after one warm-up", "3"})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"device", "NAME", "cpu or cuda[:N]", "cpu"})
      .flag({"dtypes", "LIST", "float32, float16, bfloat16 (default: float32 on the CPU, all three on CUDA)", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  gligen::io::configure_cpu_runtime(threads);
  const int runs = static_cast<int>(args->get_int("runs", 3, 1, 1000));
  const torch::Device device = gligen::io::parse_device(args->get_string("device", "cpu"));
  if (device.is_cuda() && !torch::cuda::is_available()) throw gligen::Error("--device: CUDA is not available");
  auto dtypes = split_commas(args->get_string("dtypes", device.is_cuda() ? "float32,float16,bfloat16" : "float32"));
  std::vector<int64_t> batches;
  for (const auto& b : split_commas(args->get_string("batches", "1,8"))) {
    try {
      batches.push_back(std::stoll(b));
    } catch (const std::exception&) {
      throw gligen::Error("--batches must list positive integers, e.g. 1,8");
    }
    if (batches.back() <= 0) throw gligen::Error("--batches must list positive integers, e.g. 1,8");
  }
  int w = 0, h = 0;
  char x = 0;
  std::istringstream ss(args->get_string("size", "640x480"));
  if (!(ss >> w >> x >> h) || x != 'x' || w <= 0 || h <= 0) throw gligen::Error("--size must be WxH, e.g. 640x480");
  std::mt19937 rng(1);
  std::vector<gligen::data::Rgb8Image> images(static_cast<size_t>(*std::max_element(batches.begin(), batches.end())));
  for (auto& image : images) {
    image.width = w;
    image.height = h;
    image.pixels.resize(size_t(w) * h * 3);
    for (auto& v : image.pixels) v = static_cast<std::uint8_t>(rng() & 0xFF);
  }

  const std::string path = args->get_string("ram", "");
  gligen::tag::RamConfig real;  // the released architecture
  nlohmann::json results = nlohmann::json::array();
  for (const auto& dtype_name : dtypes) {
    const torch::ScalarType dtype = gligen::io::parse_dtype(dtype_name, "--dtypes");
    auto t0 = Clock::now();
    std::optional<gligen::tag::RamTagger> loaded;
    if (!path.empty()) {
      loaded = gligen::tag::RamTagger::load(path, device, dtype);
    } else {
      torch::NoGradGuard no_grad;
      gligen::tag::RamModel model(real);
      model->label_embed.normal_();
      gligen::tag::RamTagLists lists;
      for (int64_t i = 0; i < real.num_classes; ++i) {
        lists.english.push_back("tag " + std::to_string(i));
        lists.chinese.push_back("tag " + std::to_string(i));
        lists.thresholds.push_back(0.68f);
      }
      loaded = gligen::tag::RamTagger::create(model, std::move(lists), device, dtype);
    }
    const auto& ram = *loaded;
    const double load_s = seconds_since(t0);
    for (const auto b : batches) {
      const std::vector<gligen::data::Rgb8Image> batch(images.begin(), images.begin() + b);
      std::vector<double> wall, cpu;
      for (int i = 0; i <= runs; ++i) {
        sync(device);
        const auto start = Clock::now();
        const double c0 = cpu_seconds();
        const auto tags = ram.tag(batch);
        sync(device);
        if (i > 0) {  // run 0 is the warm-up
          wall.push_back(seconds_since(start));
          cpu.push_back(cpu_seconds() - c0);
        }
      }
      const double s = median(wall);
      results.push_back({{"dtype", dtype_name},
                         {"batch", b},
                         {"load_s", load_s},
                         {"seconds_per_batch", s},
                         {"images_per_s", double(b) / s},
                         {"cpu_seconds_per_image", median(cpu) / double(b)}});
      std::cerr << "gligen-ram-bench: " << dtype_name << " batch " << b << ": " << double(b) / s << " images/s\n";
    }
  }
  nlohmann::json out = {{"ram", args->get_string("ram", "(random weights, ram-swin-l)")},
                        {"device", device.str()},
                        {"threads", torch::get_num_threads()},
                        {"image", std::to_string(w) + "x" + std::to_string(h)},
                        {"runs", runs},
                        {"results", results},
                        {"peak_rss_mib", peak_rss_mib()}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const gligen::Error& e) {
    std::cerr << "gligen-ram-bench: error: " << e.what() << "\n";
    return 2;
  }
}
