// `gligen-trainer tag`: RAM (recognize-anything) image tags, as the dataset job computes them
// (the seed's make_datasets.py: inference_ram, then " |" -> "." for the detector's text).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "core/io/cpu_runtime.h"
#include "core/data/grounding_dataset.h"
#include "core/tag/ram_tagger.h"
#include "core/io/device_options.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

int run_tag(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer tag",
                "Tag images with RAM (recognize-anything's ram_swin_large_14m.pth). Prints, per image, the\n"
                "detector text the dataset job uses (\"tag1. tag2\") and each tag with its probability.\n"
                "The tag lists (ram_tag_list.txt, ram_tag_list_chinese.txt, ram_tag_list_threshold.txt)\n"
                "are read next to the checkpoint unless --tags-dir names their folder.",
                "gligen-trainer tag --ram PATH --image FILE [FILE...] [--json] [--tags-dir DIR]");
  p.flag({"ram", "PATH", "ram_swin_large_14m.pth, or the folder holding it (and optionally configs/)", ""})
      .flag({"image", "FILE", "an image (PNG, JPEG, ...); repeat the flag or list more files after it", "", true})
      .flag({"tags-dir", "DIR", "folder of the three tag-list files (default: next to the checkpoint)", ""})
      .flag({"batch", "N", "images per forward pass", "8"})
      .flag({"device", "NAME", "cpu or cuda[:N]", "cpu"})
      .flag({"dtype", "NAME", "float32, float16 or bfloat16 (half precision needs CUDA)", "float32"})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"json", "",
             "print one JSON object per image and line: {\"image\", \"tags\", \"tags_chinese\", \"text\", "
             "\"probabilities\"}",
             ""})
      .allow_positional("FILE", "more images");
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string ram_path = args->get_string("ram", "");
  if (ram_path.empty()) throw Error("--ram PATH is required (ram_swin_large_14m.pth or its folder)");
  std::vector<std::string> images = args->all("image");
  for (const auto& f : args->positional()) images.push_back(f);
  if (images.empty()) throw Error("--image FILE is required");
  const auto batch = static_cast<size_t>(args->get_int("batch", 8, 1, 4096));
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  gligen::io::configure_cpu_runtime(threads);

  const torch::Device device = io::parse_device(args->get_string("device", "cpu"));
  const torch::ScalarType dtype = io::parse_dtype(args->get_string("dtype", "float32"));

  const auto ram = tag::RamTagger::load(ram_path, device, dtype, args->get_string("tags-dir", ""));
  const bool json = args->has("json");
  for (size_t start = 0; start < images.size(); start += batch) {
    const size_t end = std::min(images.size(), start + batch);
    std::vector<data::Rgb8Image> decoded;
    for (size_t i = start; i < end; ++i) {
      auto image = data::read_rgb8(images[i]);
      if (!image) throw Error("cannot read the image " + images[i] + " (missing, or not an image file)");
      decoded.push_back(std::move(*image));
    }
    const auto tags = ram.tag(decoded);
    for (size_t i = 0; i < tags.size(); ++i) {
      const auto& t = tags[i];
      const std::string& name = images[start + i];
      if (json) {
        nlohmann::json probabilities = nlohmann::json::object();
        for (size_t k = 0; k < t.fired.size(); ++k) probabilities[t.english[k]] = t.probabilities[k];
        nlohmann::json out{{"image", name},
                           {"tags", t.english},
                           {"tags_chinese", t.chinese},
                           {"text", t.detector_text},
                           {"probabilities", probabilities}};
        std::cout << out.dump() << "\n";
      } else {
        std::cout << name << ": " << (t.fired.empty() ? "(no tag above its threshold)" : t.detector_text) << "\n";
        for (size_t k = 0; k < t.fired.size(); ++k) {
          char prob[32];
          std::snprintf(prob, sizeof prob, "  %6.4f  ", t.probabilities[k]);
          std::cout << prob << t.english[k] << "  (" << t.chinese[k] << ")\n";
        }
      }
    }
    std::cout.flush();
  }
  return 0;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("tag", "tag images with RAM (recognize-anything), as the dataset job does", run_tag, 46);

}  // namespace gligen::trainer
