#include "core/train/training_records.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/annotations/annotation_store.h"
#include "core/annotations/dataset_io.h"
#include "core/util/error.h"

namespace gligen::train {

namespace fs = std::filesystem;

namespace {

// Records of every image of `store` with its boxes that were not rejected. Boxes without a
// fresh embedding keep an empty one (the caller re-embeds or refuses).
void read_store(const annotations::AnnotationStore& store, TrainingRecords& out) {
  store.for_each_image(
      [&](const annotations::ImageRecord& image, const std::vector<annotations::BoxAnnotation>& boxes) {
        data::DatasetRecord r;
        r.file_path = image.path;
        r.captions = store.image_captions(image.id);
        for (const auto& b : boxes) {
          if (b.status == annotations::ReviewStatus::Rejected || b.caption.empty()) {
            ++out.skipped;
            continue;
          }
          data::Annotation a;
          a.caption = b.caption;
          a.bbox = {b.box.x0, b.box.y0, b.box.x1, b.box.y1};
          auto e = store.embedding(b.id);
          if (e && !e->stale && e->caption == b.caption) {
            a.embedding = e->vector;
          } else {
            ++out.missing_embeddings;
            if (out.stale_examples.size() < 5) out.stale_examples.emplace_back(image.path, b.caption);
          }
          r.annos.push_back(std::move(a));
        }
        if (r.captions.empty()) r.captions.push_back("");
        out.records.push_back(std::move(r));
      });
}

class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& stem) {
    path_ = (fs::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ".sqlite")).string();
    remove();
  }
  ~TemporaryFile() { remove(); }
  const std::string& path() const { return path_; }

 private:
  void remove() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path_ + suffix, ec);
  }
  std::string path_;
};

}  // namespace

TrainingRecords load_training_records(const std::string& data_path, const std::string& image_path) {
  TrainingRecords out;
  out.image_root = image_path;
  std::error_code ec;
  if (!fs::exists(data_path, ec)) {
    throw Error("--data-path '" + data_path +
                "' does not exist (give a .json or .pth record list, or an annotation "
                "dataset made with 'gligen-trainer dataset import')");
  }
  if (fs::is_regular_file(data_path, ec) && annotations::is_annotation_database(data_path)) {
    auto store = annotations::AnnotationStore::open(data_path, annotations::AnnotationStore::Mode::ReadOnly);
    if (out.image_root.empty()) out.image_root = store->image_root();
    if (out.image_root.empty()) {
      throw Error("the annotation dataset '" + data_path + "' has no image root; give --image-path");
    }
    out.source = "annotation dataset";
    read_store(*store, out);
    out.notes.push_back("annotation dataset " + data_path + ": " + std::to_string(out.records.size()) + " images, " +
                        std::to_string(out.skipped) + " rejected or caption-less boxes left out, " +
                        std::to_string(out.missing_embeddings) + " boxes without a fresh embedding");
    return out;
  }
  const std::string ext = fs::path(data_path).extension().string();
  if (ext == ".pth" || ext == ".pt" || ext == ".bin" || fs::is_directory(data_path, ec)) {
    if (image_path.empty()) throw Error("--image-path DIR is required with a .pth record list");
    // The seed's pickles go through the annotation importer (safe unpickler, per-record checks,
    // skip-and-count) into a scratch dataset, then out as records.
    TemporaryFile scratch("gligen-train-records");
    auto store = annotations::AnnotationStore::open_or_create(scratch.path());
    annotations::ImportOptions opt;
    opt.image_root = image_path;
    opt.hash_images = false;
    auto report = annotations::import_dataset(*store, data_path, opt);
    out.source = "seed .pth";
    out.notes.push_back("seed record list " + data_path + ": " + report.summary());
    for (const auto& ex : report.examples) out.notes.push_back("  skipped: " + ex);
    out.skipped = report.images_skipped + report.annotations_skipped;
    read_store(*store, out);
    return out;
  }
  if (image_path.empty())
    throw Error("--image-path DIR is required (the folder the records' file_path are relative to)");
  out.source = "json";
  out.records = data::load_dataset_records(data_path);
  return out;
}

}  // namespace gligen::train
