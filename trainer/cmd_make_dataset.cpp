// `gligen-trainer make-dataset`: the seed's make_datasets.py on our native models (RAM, Grounding
// DINO, BLIP-2, CLIP text), into the annotation dataset, resumable, one process or N ranks.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/io/cpu_runtime.h"
#include "core/annotations/caption_embedder.h"
#include "core/datagen/dataset_job.h"
#include "core/detect/grounding_dino_config.h"
#include "core/detect/grounding_dino_processor.h"
#include "core/nets/blip2_config.h"
#include "core/nets/clip_config.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/datagen/image_annotator.h"
#include "core/distributed/launch_environment.h"
#include "core/distributed/process_group.h"
#include "core/train/run_directory.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

namespace fs = std::filesystem;

std::string default_run_dir(const std::string& db) {
  fs::path p(db);
  return (p.parent_path() / (p.stem().string() + "-make-dataset")).string();
}

bool has_weight_files(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    const auto ends = [&](const std::string& x) {
      return n.size() >= x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0;
    };
    if (ends(".safetensors") || ends(".bin") || ends(".safetensors.index.json") || ends(".bin.index.json")) return true;
  }
  return false;
}

// --check: reads each model folder's configs and tokenizer as loading would, and looks for its
// weight files, without loading the weights (seconds, whatever the model size). One line per
// model; the first problem of each is reported, and any problem makes the command fail.
int check_models(const cli::Args& args) {
  std::vector<std::string> problems;
  const auto check = [&](const std::string& what, const std::string& flag,
                         const std::function<std::string(const std::string&)>& fn) {
    const std::string dir = args.get_string(flag, "");
    if (dir.empty()) {
      problems.push_back(what + ": --" + flag + " is not given");
      return;
    }
    try {
      const std::string result = fn(dir);
      std::cout << what << ": " << result << "\n";
    } catch (const std::exception& e) {
      problems.push_back(what + ": " + e.what());
    }
  };
  const auto need_dir = [](const std::string& dir) {
    if (!fs::is_directory(dir)) throw Error("the folder " + dir + " does not exist");
  };
  const auto need_weights = [](const fs::path& dir) {
    if (!has_weight_files(dir)) throw Error(dir.string() + " has no weight files (*.safetensors or *.bin)");
  };
  if (args.has("text")) {
    std::cout << "tagger: the fixed detector text \"" << args.get_string("text", "") << "\"\n";
  } else {
    check("RAM", "ram", [](const std::string& path) -> std::string {
      if (!fs::exists(path)) throw Error(path + " does not exist");
      return "checkpoint present (" + path + "); its weights are read when the job starts";
    });
  }
  check("Grounding DINO", "detector", [&](const std::string& dir) {
    need_dir(dir);
    const fs::path d(dir);
    const auto config = detect::load_grounding_dino_config((d / "config.json").string());
    detect::load_image_processor_config((d / "preprocessor_config.json").string());
    if (!fs::exists(d / "vocab.txt")) throw Error(dir + " has no vocab.txt (the text tokenizer)");
    need_weights(d);
    (void)config;
    return std::string("config, image processor, vocabulary and weight files present");
  });
  check("BLIP-2", "captioner", [&](const std::string& dir) {
    need_dir(dir);
    nets::load_blip2_config(dir);
    nets::load_blip_image_processor_config(dir);
    if (!fs::exists(fs::path(dir) / "spiece.model"))
      throw Error(dir + " has no spiece.model (the language model's tokenizer)");
    need_weights(dir);
    return std::string("config, image processor, tokenizer and weight files present");
  });
  check("CLIP text encoder", "text-encoder", [&](const std::string& dir) {
    need_dir(dir);
    const auto [encoder_dir, tokenizer_dir] = annotations::clip_text_folders(dir);
    nets::load_clip_text_config((fs::path(encoder_dir) / "config.json").string());
    tokenizer::ClipTokenizer tok(tokenizer_dir);
    need_weights(encoder_dir);
    return std::string("config, tokenizer and weight files present");
  });
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw Error(all);
  }
  std::cout << "the models look loadable\n";
  return 0;
}

int run_make_dataset(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer make-dataset",
                "Turn a folder of images into GLIGEN training data, as the seed's make_datasets.py does: RAM tags\n"
                "each image, Grounding DINO finds the tags (\"tag1. tag2\"), NMS keeps the best boxes, BLIP-2\n"
                "captions each box and CLIP embeds each caption. Results go into the annotation dataset (--db) with\n"
                "the detector's scores and labels and the image's tags, one transaction per image: run the same\n"
                "command again after a stop or a crash and it continues; new images in the folder are added.\n"
                "Several ranks: gligen-trainer launch --nproc-per-node N -- make-dataset ..., torchrun or Slurm.",
                "gligen-trainer make-dataset --images DIR --db DATASET.sqlite --ram FILE|DIR --detector DIR "
                "--captioner DIR --text-encoder DIR [options]");
  p.flag({"images", "DIR", "the pictures (searched recursively)", ""})
      .flag({"db", "FILE", "the annotation dataset to fill (created when missing)", ""})
      .flag({"ram", "FILE|DIR",
             "RAM checkpoint (ram_swin_large_14m.pth) or a folder with it, its configs and tag lists", ""})
      .flag({"ram-tags", "DIR", "folder of RAM's tag-list files", "next to the checkpoint"})
      .flag({"text", "TEXT", "use this detector text (\"cat. dog\") for every image instead of RAM's tags", ""})
      .flag({"detector", "DIR", "Grounding DINO folder (IDEA-Research/grounding-dino-base)", ""})
      .flag({"captioner", "DIR", "BLIP-2 folder (Salesforce/blip2-flan-t5-xxl)", ""})
      .flag({"text-encoder", "DIR",
             "CLIP folder as released (openai/clip-vit-large-patch14) or a diffusers pipeline folder", ""})
      .flag({"box-threshold", "X", "keep detections scoring above X", "0.25"})
      .flag({"text-threshold", "X", "label tokens are those above X", "0.2"})
      .flag({"nms-iou", "X", "drop boxes overlapping a better one by IoU above X", "0.5"})
      .flag({"device", "NAME", "cpu or cuda (each rank takes cuda:LOCAL_RANK)", "cpu"})
      .flag({"precision", "NAME", "fp32, fp16 or bf16 for the detector and the captioner (half needs CUDA)", "fp32"})
      .flag({"batch", "N", "crops per captioner pass (0: all boxes of an image)", "0"})
      .flag({"limit", "N", "stop after N images (per rank)", ""})
      .flag({"threads", "N", "CPU threads (0: LibTorch's default)", "0"})
      .flag({"output-dir", "DIR", "run folder: run.json, events.jsonl, log.txt, shards/",
             "<db name>-make-dataset next to the db"})
      .flag({"events", "", "print JSON lines instead of a progress bar", ""})
      .flag({"check", "", "only check the model folders (configs, tokenizers, weight files present) and exit", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  if (args->has("check")) return check_models(*args);
  const auto need = [&](const std::string& flag, const std::string& what) {
    const std::string v = args->get_string(flag, "");
    if (v.empty()) throw Error("--" + flag + " " + what + " is required");
    return v;
  };
  datagen::AnnotatorOptions a;
  const std::string images = need("images", "DIR");
  const std::string db = need("db", "FILE");
  const bool fixed_text = args->has("text");
  const std::string ram = args->get_string("ram", "");
  if (!fixed_text && ram.empty()) {
    throw Error(
        "--ram FILE|DIR is required (RAM tags each image; or give --text \"cat. dog\" to use one detector "
        "text for every image)");
  }
  if (fixed_text && !ram.empty()) throw Error("give either --ram or --text, not both");
  a.detector = need("detector", "DIR");
  a.captioner = need("captioner", "DIR");
  a.text_encoder = need("text-encoder", "DIR");
  a.box_threshold = args->get_double("box-threshold", 0.25, 0.0, 1.0);
  a.text_threshold = args->get_double("text-threshold", 0.2, 0.0, 1.0);
  a.nms_iou = args->get_double("nms-iou", 0.5, -1.0, 1.0);
  a.precision = args->get_string("precision", "fp32");
  a.max_caption_batch = static_cast<int>(args->get_int("batch", 0, 0, 4096));
  const int threads = static_cast<int>(args->get_int("threads", 0, 0, 1024));
  gligen::io::configure_cpu_runtime(threads);

  const auto env = distributed::launch_environment_from_env();
  std::string device = args->get_string("device", "cpu");
  if (device == "cuda" && env.world_size > 1) device = "cuda:" + std::to_string(env.local_rank);
  a.device = device;
  const bool events = args->has("events");
  const std::string run_dir_path = args->get_string("output-dir", default_run_dir(db));

  train::RunDirectory run(run_dir_path, env.is_main());
  ProgressReporter progress("make-dataset", events && env.is_main());
  run.echo = [&](const std::string&, const nlohmann::json& line) {
    if (events && env.is_main()) std::cout << line.dump() << "\n" << std::flush;
  };
  const auto log = [&](const std::string& m) {
    if (env.is_main()) {
      run.log(m);
      if (!events) progress.log(m);
    } else {
      std::cerr << "[rank " << env.rank << "] " << m << "\n";
    }
  };
  nlohmann::json config = {{"command", "make-dataset"},
                           {"images", images},
                           {"db", db},
                           {"ram", ram},
                           {"ram_tags", args->get_string("ram-tags", "")},
                           {"text", fixed_text ? nlohmann::json(args->get_string("text", "")) : nlohmann::json()},
                           {"detector", a.detector},
                           {"captioner", a.captioner},
                           {"text_encoder", a.text_encoder},
                           {"box_threshold", a.box_threshold},
                           {"text_threshold", a.text_threshold},
                           {"nms_iou", a.nms_iou},
                           {"device", args->get_string("device", "cpu")},
                           {"precision", a.precision},
                           {"batch", a.max_caption_batch},
                           {"world_size", env.world_size},
                           {"launcher", env.launcher}};
  if (env.is_main()) run.write_run_json(config);

  try {
    std::unique_ptr<distributed::ProcessGroup> group;
    if (env.world_size > 1) {
      // Gloo on the CPU only for the barriers around the shard merge; ranks may finish their
      // shares far apart, hence the long timeout.
      group = distributed::ProcessGroup::join(env, torch::kCPU, std::chrono::hours(72));
      log("joined the process group: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size));
    }
    const auto t_load = std::chrono::steady_clock::now();
    auto tagger = fixed_text ? datagen::fixed_text_tagger(args->get_string("text", ""))
                             : datagen::ram_tagger(ram, args->get_string("ram-tags", ""), a.device, a.precision);
    datagen::ImageAnnotator annotator(a, std::move(tagger));
    log("models loaded in " +
        std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count()) + " s");

    datagen::DatasetJobOptions o;
    o.images_dir = images;
    o.db_path = db;
    o.shard_dir = (fs::path(run_dir_path) / "shards").string();
    o.rank = env.rank;
    o.world_size = env.world_size;
    o.limit = args->has("limit") ? args->get_int("limit", -1, 0, 1LL << 40) : -1;
    o.stop = StopSignalScope::flag();
    o.log = log;
    if (group) o.barrier = [&] { group->barrier(); };
    const auto start = std::chrono::steady_clock::now();
    o.on_image = [&](const datagen::ImageOutcome& out, int64_t done, int64_t todo) {
      if (!env.is_main()) return;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      nlohmann::json e = {{"image", out.path}, {"ok", out.ok}};
      if (!out.ok) {
        e["error"] = out.error;
      } else {
        e["detections"] = out.detections;
        e["boxes"] = out.boxes;
        e["seconds"] = {{"tag", out.seconds.tag},
                        {"detect", out.seconds.detect},
                        {"caption", out.seconds.caption},
                        {"embed", out.seconds.embed}};
        nlohmann::json boxes = nlohmann::json::array();
        for (const auto& b : out.result->boxes) {
          boxes.push_back({{"box", {b.detection.box[0], b.detection.box[1], b.detection.box[2], b.detection.box[3]}},
                           {"score", b.detection.score},
                           {"label", b.detection.label},
                           {"caption", b.caption}});
        }
        e["annotations"] = boxes;
        e["tags"] = out.result->tags.english_text;
      }
      run.event("datagen_image", e);
      // Progress of rank 0's share; all ranks work at about the same pace.
      run.event("progress", {{"images_done", done},
                             {"images_total", todo},
                             {"images_per_s", elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0},
                             {"world_size", env.world_size}});
      if (!events) progress.update(static_cast<long>(done), static_cast<long>(todo));
    };
    datagen::DatasetJobReport r;
    {
      StopSignalScope stop(progress, StopSignalScope::Signals::InterruptAndTerminate);
      r = datagen::run_dataset_job(o, annotator);
    }
    progress.finish();
    nlohmann::json unreadable = r.unreadable;
    const nlohmann::json done = {{"images_in_folder", r.images_in_folder},
                                 {"shard_images", r.shard_images},
                                 {"already_done", r.already_done},
                                 {"processed", r.processed},
                                 {"boxes", r.boxes},
                                 {"detections", r.detections},
                                 {"unreadable", unreadable},
                                 {"stopped", r.stopped},
                                 {"merged_images", r.merged_images},
                                 {"seconds",
                                  {{"tag", r.seconds.tag},
                                   {"detect", r.seconds.detect},
                                   {"caption", r.seconds.caption},
                                   {"embed", r.seconds.embed}}}};
    if (env.is_main()) {
      run.event("done", done);
      run.log(r.summary());
    }
    if (!events) {
      std::cout << (env.world_size > 1 ? "[rank " + std::to_string(env.rank) + "] " : "") << r.summary() << "\n";
      for (const auto& u : r.unreadable) std::cout << "  unreadable: " << u << "\n";
    }
    return r.stopped ? 130 : 0;
  } catch (const std::exception& e) {
    if (env.is_main()) run.event("error", {{"message", e.what()}});
    throw;
  }
}

}  // namespace

GLIGEN_TRAINER_COMMAND("make-dataset", "turn a folder of images into training data (RAM, Grounding DINO, BLIP-2, CLIP)",
                       run_make_dataset, 35);

}  // namespace gligen::trainer
