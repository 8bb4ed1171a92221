// The dataset-creation job (`gligen-trainer make-dataset`): every image of a folder through
// ImageAnnotator, the results into the annotation store.
//
// Safety: each image's results (the image row, its boxes with caption, label, detector score and
// source, their CLIP embeddings, and a datagen_images row with the RAM tags, the detector text
// and the models used) commit in one SQLite transaction, so a job killed at any moment loses at
// most the image in flight, and the same command run again continues where it stopped: images
// with a datagen_images row of status "done" are not processed again; new images in the folder
// are. Unreadable images get a row of status "unreadable" (tried again on the next run), are
// counted and listed, and never stop the job. A stop request (SIGTERM / SIGINT) ends the job
// after the current image.
//
// Ranks: with world_size > 1 each rank takes the images whose index in the sorted list is
// rank (mod world_size), a deterministic disjoint shard. Every rank writes its results into its
// own shard database (<run dir>/shards/rank-K.sqlite), so one process writes each SQLite file
// (SQLite's locking cannot be trusted on the network file systems of clusters); rank 0 merges the
// shards into the dataset after a barrier at the end, and at the start merges any shard a killed
// run left behind. A single process writes straight into the dataset.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/datagen/image_annotator.h"

namespace gligen::annotations {
class AnnotationStore;
}

namespace gligen::datagen {

// The images of a folder as the job sees them: paths relative to `dir`, sorted, searched
// recursively, hidden files and files without an image extension left out.
std::vector<std::string> list_images(const std::string& dir);

// What happened to one image, for progress events.
struct ImageOutcome {
  std::string path;  // relative to the images folder
  bool ok = false;
  std::string error;  // why it was skipped
  int64_t detections = 0, boxes = 0;
  StageSeconds seconds;
  const AnnotatedImage* result = nullptr;  // the boxes and captions (ok images)
};

struct DatasetJobOptions {
  std::string images_dir;  // the pictures
  std::string db_path;     // the annotation dataset (created when missing)
  std::string shard_dir;   // where the per-rank shard databases go (world_size > 1)
  int rank = 0, world_size = 1;
  int64_t limit = -1;  // stop after this many images of this rank (-1: all)
  const std::atomic<bool>* stop = nullptr;
  std::function<void()> barrier;  // all ranks meet (world_size > 1)
  // After every image this rank processed: its outcome, the rank's images done so far in this
  // run and the number it has to do.
  std::function<void(const ImageOutcome&, int64_t done, int64_t todo)> on_image;
  std::function<void(const std::string&)> log;
};

struct DatasetJobReport {
  int64_t images_in_folder = 0;  // all ranks
  int64_t shard_images = 0;      // this rank's share
  int64_t already_done = 0;      // of the share, done by earlier runs
  int64_t processed = 0;         // done by this run (this rank)
  int64_t boxes = 0, detections = 0;
  std::vector<std::string> unreadable;  // skipped in this run, with the reason
  bool stopped = false;                 // a stop request ended it early
  int64_t merged_images = 0;            // rank 0: images merged from shard databases
  StageSeconds seconds;                 // summed over the images of this run
  std::string summary() const;
};

// Runs the job for this rank. Throws gligen::Error on what makes the whole job impossible (the
// folder or database cannot be read or written, the database belongs to another image folder).
DatasetJobReport run_dataset_job(const DatasetJobOptions& options, ImageAnnotator& annotator);

// Merges the shard databases in `shard_dir` into the dataset (idempotent: images already done in
// the dataset are left alone), deleting each shard once merged. Returns the images merged.
int64_t merge_shards(annotations::AnnotationStore& dataset, const std::string& shard_dir,
                     const std::function<void(const std::string&)>& log = {});

// The datagen_images row of one image (RAM tags etc.), nullopt when the job has not seen it.
struct DatagenRecord {
  std::string path, status, error;
  int64_t image_id = 0, detections = 0, boxes = 0;
  std::string tags, tags_chinese, detector_text;
  std::string tagger, detector, captioner, encoder;
  double seconds = 0;
};
std::vector<DatagenRecord> datagen_records(annotations::AnnotationStore& store);

}  // namespace gligen::datagen
