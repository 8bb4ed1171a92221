// Importing into and exporting from the annotation store:
//  - the seed's record list: torch.save of a list of {file_path, captions, annos: [{caption,
//    bbox (xyxy pixels), text_embeddings_before_projection (float32[768])}]} (coco_train2017.pth);
//  - the seed's per-image files: torch.save of {file_path, annos} (make_datasets.py), one file or a
//    folder of them;
//  - COCO JSON: instances (category name as box caption and label; an optional per-annotation
//    "caption" overrides it; detection results' "score" is kept) and captions files.
// Importers never abort on a bad record: missing or unreadable images, boxes outside the image,
// non-finite numbers and malformed records are skipped and counted in the report. A file that
// cannot be read at all is a gligen::Error. An import is one transaction: it lands whole or not.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/annotations/annotation_store.h"

namespace gligen::annotations {

enum class DatasetFormat { SeedList, SeedPerImage, SeedPerImageFolder, CocoJson };
const char* dataset_format_name(DatasetFormat f);
// From the file's contents (a folder: per-image .pth files). Throws gligen::Error when unknown.
DatasetFormat detect_dataset_format(const std::string& path);

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

struct ImportOptions {
  // Folder the records' image paths are relative to; "" = the dataset's image root if set, else
  // the folder of the imported file. Stored as the dataset's image root on first import.
  std::string image_root;
  bool hash_images = true;  // content hash of every image file (reads each file once)
  // Name stored with imported embeddings (the seed's files do not say which encoder made them).
  std::string embedding_encoder = "imported";
  ProgressFn progress;
};

struct ImportReport {
  DatasetFormat format = DatasetFormat::SeedList;
  int64_t images_added = 0, images_matched = 0, images_skipped = 0;
  int64_t annotations_added = 0, annotations_skipped = 0;
  int64_t captions_added = 0, embeddings_added = 0, embeddings_dropped = 0;
  std::map<std::string, int64_t> skipped;  // reason -> count
  std::vector<std::string> examples;       // the first few skip messages, with record and path
  void skip(const std::string& reason, const std::string& detail);
  std::string summary() const;
};

ImportReport import_dataset(AnnotationStore& store, const std::string& path, const ImportOptions& options = {});

struct ExportOptions {
  bool only_accepted = false;  // accepted + edited boxes only; default: all but rejected
  ProgressFn progress;
};

struct ExportReport {
  int64_t images = 0, annotations = 0;
  int64_t annotations_left_out = 0;  // rejected / not accepted
  int64_t missing_embeddings = 0;    // boxes left out of a .pth export for want of a fresh embedding
  std::vector<std::string> files;    // written files
  std::string summary() const;
};

// The seed's record list (.pth), readable by torch.load and the seed's dataset.py. Boxes whose
// embedding is missing or stale are left out and counted (run `dataset embed` first).
ExportReport export_seed_pth(const AnnotationStore& store, const std::string& path, const ExportOptions& options = {});
// One file per image like the seed's make_datasets.py: <dir>/<image path> holding
// {file_path: <image file name>, annos: [...]}; boxes without a fresh embedding left out and counted.
ExportReport export_seed_per_image(const AnnotationStore& store, const std::string& dir,
                                   const ExportOptions& options = {});
// COCO instances JSON; when the dataset has image captions, also <stem>_captions.json.
ExportReport export_coco_json(const AnnotationStore& store, const std::string& path, const ExportOptions& options = {});

}  // namespace gligen::annotations
