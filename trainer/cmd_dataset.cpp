// `gligen-trainer dataset import|export|stats|embed`: the annotation dataset store from the
// command line (the studio's review panel edits the same database).
#include <torch/torch.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/io/cpu_runtime.h"
#include "core/annotations/annotation_store.h"
#include "core/annotations/caption_embedder.h"
#include "core/annotations/dataset_io.h"
#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"
#include "trainer/progress.h"
#include "trainer/stop_signals.h"

namespace gligen::trainer {
namespace {

using namespace gligen::annotations;
namespace fs = std::filesystem;

const char* kUsage =
    "usage: gligen-trainer dataset <action> --db DB [options]\n\n"
    "The annotation dataset: one SQLite database plus an image root.\n\n"
    "actions:\n"
    "  import   add a seed .pth record list, a per-image .pth (or a folder of them) or a COCO .json\n"
    "  export   write the seed's .pth record list or COCO .json\n"
    "  stats    counts by review status and label, embeddings, score histogram\n"
    "  embed    (re)compute CLIP caption embeddings of new or edited boxes (resumable)\n\n"
    "Run 'gligen-trainer dataset <action> --help' for the options of an action.\n";

std::string require(const cli::Args& args, const std::string& flag, const std::string& what) {
  const std::string v = args.get_string(flag, "");
  if (v.empty()) throw Error("--" + flag + " " + what + " is required");
  return v;
}

void print_report_json(const nlohmann::json& j) { std::cout << j.dump() << "\n"; }

int run_import(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer dataset import",
                "Import annotations into the dataset database (created when it does not exist). The format is\n"
                "detected from the file: the seed's .pth record list (coco_train2017.pth), a per-image .pth or a\n"
                "folder of them, or COCO JSON (instances: category name as box caption; captions files). Bad\n"
                "records (missing or unreadable image, box outside the image, NaN) are skipped and counted.",
                "gligen-trainer dataset import --db DB --from FILE [--from FILE]... [--images DIR]");
  p.flag({"db", "DB", "dataset database file", ""})
      .flag({"from", "FILE", "file (or folder of per-image .pth files) to import; repeatable", "", true})
      .flag(
          {"images", "DIR", "folder the records' image paths are relative to", "the dataset's, else the file's folder"})
      .flag({"no-hash", "", "do not compute image content hashes (faster on huge datasets)", ""})
      .flag({"events", "", "print JSON lines instead of a progress bar", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string db = require(*args, "db", "DB");
  const auto from = args->all("from");
  if (from.empty()) throw Error("--from FILE is required");
  const std::string images = args->get_string("images", "");
  if (!images.empty() && !fs::is_directory(images)) throw Error("--images: folder '" + images + "' does not exist");
  auto store = AnnotationStore::open_or_create(db);
  ProgressReporter progress("import", args->has("events"));
  int64_t skipped = 0;
  for (const auto& f : from) {
    ImportOptions o;
    o.image_root = images;
    o.hash_images = !args->has("no-hash");
    o.progress = [&](int64_t d, int64_t t) { progress.update(static_cast<long>(d), static_cast<long>(t)); };
    const ImportReport r = import_dataset(*store, f, o);
    progress.finish();
    skipped += r.images_skipped + r.annotations_skipped;
    if (args->has("events")) {
      progress.event("log", "\"message\":" + nlohmann::json(r.summary()).dump());
    } else {
      std::cout << f << ": " << r.summary() << "\n";
    }
  }
  progress.event("done", "\"skipped\":" + std::to_string(skipped));
  return 0;
}

int run_export(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer dataset export",
                "Export the dataset. FILE.pth: the seed's record list (torch.load-able; feeds the seed's dataset.py);\n"
                "boxes need an up-to-date embedding (run 'dataset embed'). FILE.json: COCO instances, plus\n"
                "FILE_captions.json when there are image captions. With --per-image, --to is a folder that gets one\n"
                "file per image as the seed's make_datasets.py writes them ({file_path, annos}, named after the\n"
                "image). Rejected boxes are never exported.",
                "gligen-trainer dataset export --db DB --to FILE.pth|FILE.json|DIR [--per-image] [--only-accepted]");
  p.flag({"db", "DB", "dataset database file", ""})
      .flag({"to", "FILE", "output .pth or .json", ""})
      .flag({"only-accepted", "", "export accepted and edited boxes only", "all but rejected"})
      .flag({"per-image", "", "one seed .pth per image in the folder --to (the seed's make_datasets.py output)", ""})
      .flag({"events", "", "print JSON lines instead of a progress bar", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string db = require(*args, "db", "DB");
  const std::string to = require(*args, "to", "FILE");
  if (args->has("per-image")) {
    auto store = AnnotationStore::open(db, AnnotationStore::Mode::ReadOnly);
    ProgressReporter progress("export", args->has("events"));
    ExportOptions o;
    o.only_accepted = args->has("only-accepted");
    o.progress = [&](int64_t d, int64_t t) { progress.update(static_cast<long>(d), static_cast<long>(t)); };
    const ExportReport r = export_seed_per_image(*store, to, o);
    progress.finish();
    std::cout << r.summary() << "\n";
    return 0;
  }
  const auto parent = fs::path(to).parent_path();
  if (!parent.empty() && !fs::is_directory(parent))
    throw Error("--to: the folder '" + parent.string() + "' does not exist");
  const std::string ext = fs::path(to).extension().string();
  if (ext != ".pth" && ext != ".pt" && ext != ".json")
    throw Error("--to must end in .pth (seed format) or .json (COCO)");
  auto store = AnnotationStore::open(db, AnnotationStore::Mode::ReadOnly);
  ProgressReporter progress("export", args->has("events"));
  ExportOptions o;
  o.only_accepted = args->has("only-accepted");
  o.progress = [&](int64_t d, int64_t t) { progress.update(static_cast<long>(d), static_cast<long>(t)); };
  const ExportReport r = ext == ".json" ? export_coco_json(*store, to, o) : export_seed_pth(*store, to, o);
  progress.finish();
  if (args->has("events")) {
    progress.event("done", "\"images\":" + std::to_string(r.images) +
                               ",\"annotations\":" + std::to_string(r.annotations) +
                               ",\"missing_embeddings\":" + std::to_string(r.missing_embeddings));
  } else {
    std::cout << r.summary() << "\n";
  }
  return 0;
}

int run_stats(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer dataset stats", "Counts by review status and label, embeddings and detector scores.",
                "gligen-trainer dataset stats --db DB [--json] [--labels N] [--check]");
  p.flag({"db", "DB", "dataset database file", ""})
      .flag({"json", "", "print one JSON object", ""})
      .flag({"labels", "N", "how many labels to list", "20"})
      .flag({"check", "", "also run SQLite's integrity check (reads the whole file)", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string db = require(*args, "db", "DB");
  const auto top = static_cast<size_t>(args->get_int("labels", 20, 0, 1000000));
  auto store = AnnotationStore::open(db, AnnotationStore::Mode::ReadOnly);
  const DatasetStats s = store->stats();
  const auto hist = store->score_histogram(10);
  nlohmann::json j = {{"images", s.images},
                      {"annotations", s.annotations},
                      {"image_captions", s.image_captions},
                      {"embeddings", s.embeddings},
                      {"stale_embeddings", s.stale_embeddings},
                      {"missing_embeddings", s.missing_embeddings},
                      {"scored", s.scored},
                      {"score_histogram", hist},
                      {"image_root", store->image_root()}};
  for (const auto& [st, n] : s.by_status) j["by_status"][review_status_name(st)] = n;
  j["labels"] = s.by_label.size();
  for (size_t k = 0; k < std::min(top, s.by_label.size()); ++k)
    j["top_labels"].push_back({s.by_label[k].first, s.by_label[k].second});
  if (args->has("check")) j["integrity"] = store->check_integrity();
  if (args->has("json")) {
    print_report_json(j);
    return 0;
  }
  std::cout << "dataset " << db << "\n  image root   " << store->image_root() << "\n  images       " << s.images
            << "\n  boxes        " << s.annotations << "\n  captions     " << s.image_captions << "\n  by status   ";
  for (const auto& [st, n] : s.by_status) std::cout << " " << review_status_name(st) << " " << n;
  std::cout << "\n  embeddings   " << s.embeddings << " (" << s.stale_embeddings << " stale, " << s.missing_embeddings
            << " missing)\n  scored boxes " << s.scored << "\n  labels       " << s.by_label.size() << "\n";
  for (size_t k = 0; k < std::min(top, s.by_label.size()); ++k) {
    std::cout << "    " << s.by_label[k].second << "\t" << s.by_label[k].first << "\n";
  }
  if (s.scored > 0) {
    std::cout << "  score histogram (0.1 bins):";
    for (auto n : hist) std::cout << " " << n;
    std::cout << "\n";
  }
  if (args->has("check")) std::cout << "  integrity    " << store->check_integrity() << "\n";
  return 0;
}

int run_embed(const std::vector<std::string>& argv) {
  cli::Parser p("gligen-trainer dataset embed",
                "Compute the CLIP text embeddings (pooler_output, as GLIGEN encodes phrases) of boxes whose embedding\n"
                "is missing or stale after a caption edit. Batches are committed as they finish: Ctrl-C (or a\n"
                "crash) keeps the work done, and running the command again resumes.",
                "gligen-trainer dataset embed --db DB --model DIR [--batch N] [--device DEV] [--all]");
  p.flag({"db", "DB", "dataset database file", ""})
      .flag({"model", "DIR", "diffusers pipeline folder with text_encoder/ and tokenizer/", ""})
      .flag({"batch", "N", "captions per batch", "64"})
      .flag({"device", "DEV", "cpu, cuda or cuda:N", "cpu"})
      .flag({"all", "", "also replace embeddings made by another encoder (e.g. imported ones)", ""})
      .flag({"limit", "N", "stop after N boxes", "all"})
      .flag({"threads", "N", "CPU threads for LibTorch", "all cores"})
      .flag({"events", "", "print JSON lines instead of a progress bar", ""});
  auto args = p.parse(argv);
  if (!args) return 0;
  const std::string db = require(*args, "db", "DB");
  EmbedOptions o;
  o.model_dir = require(*args, "model", "DIR");
  o.batch_size = static_cast<int>(args->get_int("batch", 64, 1, 65536));
  o.device = args->get_string("device", "cpu");
  o.all = args->has("all");
  o.limit = args->get_int("limit", -1, 0, std::numeric_limits<long long>::max());
  if (args->has("threads")) gligen::io::configure_cpu_runtime(static_cast<int>(args->get_int("threads", 1, 1, 1024)));
  auto store = AnnotationStore::open(db);
  ProgressReporter progress("embed", args->has("events"));
  o.progress = [&](int64_t d, int64_t t) { progress.update(static_cast<long>(d), static_cast<long>(t)); };
  o.cancel = StopSignalScope::flag();
  EmbedReport r;
  {
    StopSignalScope stop(progress, StopSignalScope::Signals::Interrupt);
    r = embed_captions(*store, o);
  }
  if (args->has("events")) {
    progress.event("done", "\"embedded\":" + std::to_string(r.embedded) + ",\"pending\":" + std::to_string(r.pending));
  } else {
    std::cout << "embedded " << r.embedded << " captions (" << r.dim << "-d, " << r.encoder << "); " << r.pending
              << " still pending\n";
  }
  return StopSignalScope::requested() ? 130 : 0;
}

int run_dataset(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::cout << kUsage;
    return argv.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "import") return run_import(rest);
  if (argv[0] == "export") return run_export(rest);
  if (argv[0] == "stats") return run_stats(rest);
  if (argv[0] == "embed") return run_embed(rest);
  throw Error("unknown dataset action '" + argv[0] + "' (use import, export, stats or embed)");
}

}  // namespace

GLIGEN_TRAINER_COMMAND("dataset", "annotation dataset: import, export, stats, embed", run_dataset, 40);

}  // namespace gligen::trainer
