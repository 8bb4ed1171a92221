// The GLIGEN training dataset of the seed (diffusers examples/research_projects/gligen/dataset.py,
// COCODataset): records {file_path, captions, annos [{caption, bbox, text_embeddings_before_projection}]}
// plus an image root, turned into training samples:
//   image: Resize(shorter side -> image_size, Pillow bilinear) -> CenterCrop -> [-1, 1]
//   boxes: rescaled and shifted into the crop, clipped, dropped when their area is below
//          min_box_size of the image, sorted by area (descending), the first max_boxes kept,
//          normalised by image_size; masks 1 for kept boxes
//   random: all masks dropped with prob_drop_boxes, one caption picked, replaced by "" with
//           prob_drop_captions, then tokenised to (model_max_length) with max-length padding.
// Differences from the seed, on purpose: annotations are never modified in place (the seed
// rewrites anno["bbox"], so a second epoch in the main process would transform boxes twice); box
// ties in area keep record order (stable sort); the random draws come from a SampleRandom the
// caller gives, so every sample is reproducible from (seed, epoch, index).
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/data/pil_resample.h"

namespace gligen::tokenizer {
class ClipTokenizer;
}

namespace gligen::data {

struct Annotation {
  std::string caption;
  std::array<double, 4> bbox{};  // x0, y0, x1, y1 in pixels of the original image
  std::vector<float> embedding;  // text_embeddings_before_projection
};

struct DatasetRecord {
  std::string file_path;  // relative to the image root
  std::vector<std::string> captions;
  std::vector<Annotation> annos;
};

// Reads the seed's record list. `.json`: a JSON array of records (the fixtures' train_data.json
// layout; extra keys are ignored). Throws gligen::Error naming the file and the record when the
// layout is wrong. An empty list is returned as is (the caller decides).
std::vector<DatasetRecord> load_dataset_records(const std::string& path);

// The embedding size of the records (0 when no record has an annotation). Throws gligen::Error
// when records disagree.
int64_t embedding_dim(const std::vector<DatasetRecord>& records);

// The random draws of one sample, in the seed's order: uniform() for the box drop, choose(n) for
// the caption, uniform() for the caption drop.
class SampleRandom {
 public:
  virtual ~SampleRandom() = default;
  virtual double uniform() = 0;                   // [0, 1)
  virtual std::size_t choose(std::size_t n) = 0;  // [0, n)
};

// A counter-based generator: the draws of sample `index` in `epoch` under `seed` are fixed, so a
// sample is the same whatever worker, rank or resume point produces it.
class SeededSampleRandom : public SampleRandom {
 public:
  SeededSampleRandom(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index, std::uint64_t stream = 0);
  double uniform() override;
  std::size_t choose(std::size_t n) override;
  std::uint64_t next();

 private:
  std::uint64_t state_;
};

struct DatasetOptions {
  int image_size = 512;
  double min_box_size = 0.01;
  int max_boxes = 30;
  double prob_drop_boxes = 0.1;
  double prob_drop_captions = 0.5;
};

struct GroundingSample {
  int64_t index = -1;             // record index
  torch::Tensor pixel_values;     // [3, S, S] float32 in [-1, 1]
  torch::Tensor boxes;            // [max_boxes, 4] float32, normalised xyxy
  torch::Tensor masks;            // [max_boxes] float32
  torch::Tensor text_embeddings;  // [max_boxes, D] float32
  torch::Tensor input_ids;        // [max_length] int64
  std::string caption;            // the caption used ("" when dropped)
  int valid_boxes = 0;            // boxes kept before the mask drop
  bool boxes_dropped = false;
};

// Boxes of one record after the seed's crop arithmetic: (x0, y0, x1, y1) in pixels of the
// image_size crop, with the index of their annotation, sorted and truncated. Exposed for tests.
struct CroppedBox {
  std::array<double, 4> xyxy;
  float area;
  std::size_t anno;
};
std::vector<CroppedBox> crop_boxes(const DatasetRecord& record, int original_width, int original_height,
                                   const DatasetOptions& options);

// Decodes an image file to 8-bit RGB with OpenCV (alpha dropped, grey expanded, as PIL's
// convert("RGB"); EXIF orientation ignored, as PIL's Image.open). Returns nullopt when the file
// is missing or cannot be decoded.
std::optional<Rgb8Image> read_rgb8(const std::string& path);

class GroundingDataset {
 public:
  // `tokenizer_dir`: a CLIP tokenizer folder. `embedding_dim`: the D of the text embeddings.
  GroundingDataset(std::vector<DatasetRecord> records, std::string image_root, const std::string& tokenizer_dir,
                   DatasetOptions options);
  ~GroundingDataset();

  std::size_t size() const { return records_.size(); }
  const DatasetRecord& record(std::size_t i) const { return records_[i]; }
  std::vector<DatasetRecord>& mutable_records() { return records_; }
  const DatasetOptions& options() const { return options_; }
  int64_t embedding_dim() const { return embedding_dim_; }
  std::string image_path(std::size_t i) const;

  // The sample of record `index`, or nullopt when its image is missing or corrupt. Thread-safe.
  std::optional<GroundingSample> get(std::size_t index, SampleRandom& random) const;
  // The same from an image already decoded (used by tests and by get()).
  GroundingSample make_sample(std::size_t index, const Rgb8Image& image, SampleRandom& random) const;

 private:
  std::vector<DatasetRecord> records_;
  std::string image_root_;
  std::unique_ptr<tokenizer::ClipTokenizer> tokenizer_;
  DatasetOptions options_;
  int64_t embedding_dim_ = 0;
  int64_t max_length_ = 77;
};

// Stacks samples into a batch: pixel_values [B, 3, S, S], boxes [B, N, 4], masks [B, N],
// text_embeddings [B, N, D], input_ids [B, L].
struct GroundingBatch {
  std::vector<int64_t> indices;
  torch::Tensor pixel_values, boxes, masks, text_embeddings, input_ids;
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};
GroundingBatch collate(const std::vector<GroundingSample>& samples);

// torch::stack of one tensor member over a list of items: [N, ...member shape].
template <typename Item>
torch::Tensor stack_field(const std::vector<Item>& items, torch::Tensor Item::*field) {
  std::vector<torch::Tensor> v;
  v.reserve(items.size());
  for (const auto& item : items) v.push_back(item.*field);
  return torch::stack(v);
}

}  // namespace gligen::data
