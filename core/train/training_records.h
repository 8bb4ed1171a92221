// Where `gligen-trainer train --data-path` reads its records from. Three sources, one result:
//  - a .json record list (the seed's list of {file_path, captions, annos}, as JSON);
//  - the seed's own .pth record list (torch.save of that list, e.g. coco_train2017.pth) or a
//    folder of its per-image .pth files, read with the safe pickle reader;
//  - a GLIGEN Studio annotation dataset (SQLite, `gligen-trainer dataset import`): every box a
//    reviewer did not reject, with its stored caption embedding.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/data/grounding_dataset.h"

namespace gligen::train {

struct TrainingRecords {
  std::vector<data::DatasetRecord> records;
  std::string image_root;          // the --image-path given, or the dataset store's image root
  std::string source;              // "json", "seed .pth", "annotation dataset"
  int64_t skipped = 0;             // records / boxes left out (counted in `notes`)
  int64_t missing_embeddings = 0;  // annotation dataset boxes without a fresh embedding
  // The first of those boxes (image file and caption), for messages that say which ones.
  std::vector<std::pair<std::string, std::string>> stale_examples;
  std::vector<std::string> notes;  // human lines for the log
};

// Throws gligen::Error naming the file and what to do when it cannot be used.
TrainingRecords load_training_records(const std::string& data_path, const std::string& image_path);

}  // namespace gligen::train
