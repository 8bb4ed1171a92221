#include "core/data/grounding_dataset.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/tokenizer/clip_tokenizer.h"
#include "core/util/error.h"

namespace gligen::data {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

DatasetRecord record_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": a record must be an object {file_path, captions, annos}");
  DatasetRecord r;
  auto fp = j.find("file_path");
  if (fp == j.end() || !fp->is_string()) throw Error(where + ": 'file_path' (a string) is missing");
  r.file_path = fp->get<std::string>();
  if (auto c = j.find("captions"); c != j.end()) {
    if (!c->is_array()) throw Error(where + ": 'captions' must be a list of strings");
    for (const auto& s : *c) {
      if (!s.is_string()) throw Error(where + ": 'captions' must be a list of strings");
      r.captions.push_back(s.get<std::string>());
    }
  }
  if (auto a = j.find("annos"); a != j.end()) {
    if (!a->is_array()) throw Error(where + ": 'annos' must be a list");
    for (size_t k = 0; k < a->size(); ++k) {
      const auto& aj = (*a)[k];
      const std::string w = where + " anno " + std::to_string(k);
      if (!aj.is_object()) throw Error(w + ": must be an object {caption, bbox, text_embeddings_before_projection}");
      Annotation an;
      if (auto c = aj.find("caption"); c != aj.end() && c->is_string()) an.caption = c->get<std::string>();
      auto b = aj.find("bbox");
      if (b == aj.end() || !b->is_array() || b->size() != 4) throw Error(w + ": 'bbox' must be [x0, y0, x1, y1]");
      for (int i = 0; i < 4; ++i) {
        if (!(*b)[i].is_number()) throw Error(w + ": 'bbox' values must be numbers");
        an.bbox[i] = (*b)[i].get<double>();
      }
      auto e = aj.find("text_embeddings_before_projection");
      if (e != aj.end()) {
        if (!e->is_array()) throw Error(w + ": 'text_embeddings_before_projection' must be a list of numbers");
        an.embedding.reserve(e->size());
        for (const auto& v : *e) {
          if (!v.is_number()) throw Error(w + ": 'text_embeddings_before_projection' must be a list of numbers");
          an.embedding.push_back(v.get<float>());
        }
      }
      r.annos.push_back(std::move(an));
    }
  }
  return r;
}

}  // namespace

std::vector<DatasetRecord> load_dataset_records(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw Error("dataset '" + path + "' does not exist (give --data-path a .json record list)");
  }
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".pth" || ext == ".pt" || ext == ".bin") {
    throw Error("dataset '" + path +
                "' is a PyTorch pickle; this build reads the JSON form of the record list (the same list of "
                "{file_path, captions, annos}); convert it with json.dump, as the fixtures' train_data.json");
  }
  std::ifstream in(path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw Error("dataset '" + path + "' is not valid JSON: " + e.what());
  }
  if (!j.is_array()) throw Error("dataset '" + path + "' must hold a JSON list of records");
  std::vector<DatasetRecord> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) out.push_back(record_from_json(j[i], path + ": record " + std::to_string(i)));
  return out;
}

int64_t embedding_dim(const std::vector<DatasetRecord>& records) {
  int64_t dim = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    for (const auto& a : records[i].annos) {
      const auto d = static_cast<int64_t>(a.embedding.size());
      if (dim == 0) dim = d;
      if (d != dim) {
        throw Error("record " + std::to_string(i) + " ('" + records[i].file_path + "') has a " + std::to_string(d) +
                    "-d phrase embedding where the others are " + std::to_string(dim) + "-d");
      }
    }
  }
  return dim;
}

SeededSampleRandom::SeededSampleRandom(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index,
                                       std::uint64_t stream) {
  std::uint64_t x = seed;
  state_ = splitmix64(x);
  x ^= epoch * 0xD1B54A32D192ED03ull;
  state_ ^= splitmix64(x);
  x ^= index * 0xABC98388FB8FAC03ull;
  state_ ^= splitmix64(x);
  x ^= stream * 0x8CB92BA72F3D8DD7ull;
  state_ ^= splitmix64(x);
}

std::uint64_t SeededSampleRandom::next() { return splitmix64(state_); }

double SeededSampleRandom::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::size_t SeededSampleRandom::choose(std::size_t n) {
  if (n <= 1) return 0;
  // Rejection sampling: unbiased for any n.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t v;
  do v = next();
  while (v >= limit);
  return static_cast<std::size_t>(v % n);
}

std::vector<CroppedBox> crop_boxes(const DatasetRecord& record, int original_width, int original_height,
                                   const DatasetOptions& options) {
  // The seed's recalculate_box_and_verify_if_valid, in double precision as Python computes it.
  const double size = options.image_size;
  const double scale = size / std::min(original_width, original_height);
  const double crop_y = std::floor((original_height * scale - size) / 2);
  const double crop_x = std::floor((original_width * scale - size) / 2);
  std::vector<CroppedBox> boxes;
  for (std::size_t k = 0; k < record.annos.size(); ++k) {
    const auto& b = record.annos[k].bbox;
    const double x = b[0], y = b[1], w = b[2] - b[0], h = b[3] - b[1];
    const double x0 = std::max(x * scale - crop_x, 0.0);
    const double y0 = std::max(y * scale - crop_y, 0.0);
    const double x1 = std::min((x + w) * scale - crop_x, size);
    const double y1 = std::min((y + h) * scale - crop_y, size);
    // A box entirely outside the crop has a negative width and height whose product is positive:
    // the seed would keep it; it is dropped here.
    if (x1 <= x0 || y1 <= y0) continue;
    if ((x1 - x0) * (y1 - y0) / (size * size) < options.min_box_size) continue;
    // The seed sorts torch.tensor(areas): float32 keys.
    boxes.push_back({{x0, y0, x1, y1}, static_cast<float>((x1 - x0) * (y1 - y0)), k});
  }
  std::stable_sort(boxes.begin(), boxes.end(),
                   [](const CroppedBox& a, const CroppedBox& b) { return a.area > b.area; });
  if (static_cast<int>(boxes.size()) > options.max_boxes) boxes.resize(options.max_boxes);
  return boxes;
}

std::optional<Rgb8Image> read_rgb8(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;  // (OpenCV would log a warning)
  cv::Mat bgr;
  try {
    // PIL's Image.open does not apply EXIF orientation (the seed and the reference models see
    // the pixels as stored): neither do we.
    bgr = cv::imread(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception&) {
    return std::nullopt;
  }
  if (bgr.empty() || bgr.depth() != CV_8U || bgr.channels() != 3) return std::nullopt;
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Rgb8Image img;
  img.width = rgb.cols;
  img.height = rgb.rows;
  img.pixels.resize(static_cast<size_t>(rgb.cols) * rgb.rows * 3);
  for (int y = 0; y < rgb.rows; ++y)
    std::copy_n(rgb.ptr<std::uint8_t>(y), rgb.cols * 3, &img.pixels[static_cast<size_t>(y) * rgb.cols * 3]);
  return img;
}

GroundingDataset::GroundingDataset(std::vector<DatasetRecord> records, std::string image_root,
                                   const std::string& tokenizer_dir, DatasetOptions options)
    : records_(std::move(records)),
      image_root_(std::move(image_root)),
      tokenizer_(std::make_unique<tokenizer::ClipTokenizer>(tokenizer_dir)),
      options_(options) {
  if (options_.image_size <= 0) throw Error("the image size must be positive");
  if (options_.max_boxes <= 0 || options_.max_boxes > 99) throw Error("max boxes must be in [1, 99]");
  embedding_dim_ = data::embedding_dim(records_);
  max_length_ = tokenizer_->model_max_length();
}

GroundingDataset::~GroundingDataset() = default;

std::string GroundingDataset::image_path(std::size_t i) const {
  return (std::filesystem::path(image_root_) / records_.at(i).file_path).string();
}

std::optional<GroundingSample> GroundingDataset::get(std::size_t index, SampleRandom& random) const {
  auto image = read_rgb8(image_path(index));
  if (!image) return std::nullopt;
  return make_sample(index, *image, random);
}

GroundingSample GroundingDataset::make_sample(std::size_t index, const Rgb8Image& image, SampleRandom& random) const {
  const DatasetRecord& rec = records_.at(index);
  const int size = options_.image_size;
  GroundingSample s;
  s.index = static_cast<int64_t>(index);

  // Resize(size) -> CenterCrop(size) -> ToTensor -> Normalize(0.5, 0.5).
  const auto [rw, rh] = shorter_side_resize_size(image.width, image.height, size);
  const Rgb8Image crop = center_crop(resize_bilinear_pil(image, rw, rh), size);
  auto hwc = torch::from_blob(const_cast<std::uint8_t*>(crop.pixels.data()), {size, size, 3}, torch::kUInt8);
  s.pixel_values = hwc.permute({2, 0, 1}).to(torch::kFloat32).div(255).sub_(0.5).div_(0.5).contiguous();

  const int64_t n = options_.max_boxes;
  const int64_t d = std::max<int64_t>(embedding_dim_, 1);
  s.boxes = torch::zeros({n, 4});
  s.masks = torch::zeros({n});
  s.text_embeddings = torch::zeros({n, d});
  const auto boxes = crop_boxes(rec, image.width, image.height, options_);
  auto box_acc = s.boxes.accessor<float, 2>();
  auto mask_acc = s.masks.accessor<float, 1>();
  for (size_t i = 0; i < boxes.size(); ++i) {
    // torch.tensor(bbox) (float32) / image_size, in float32.
    for (int c = 0; c < 4; ++c) box_acc[i][c] = static_cast<float>(boxes[i].xyxy[c]) / static_cast<float>(size);
    mask_acc[i] = 1.0f;
    const auto& emb = rec.annos[boxes[i].anno].embedding;
    if (!emb.empty()) {
      std::copy(emb.begin(), emb.end(), s.text_embeddings.data_ptr<float>() + i * d);
    }
  }
  s.valid_boxes = static_cast<int>(boxes.size());

  if (random.uniform() < options_.prob_drop_boxes) {
    s.masks.zero_();
    s.boxes_dropped = true;
  }
  std::string caption = rec.captions.empty() ? std::string() : rec.captions[random.choose(rec.captions.size())];
  if (random.uniform() < options_.prob_drop_captions) caption.clear();
  s.caption = caption;
  auto tokens = tokenizer_->tokenize({caption}, tokenizer::Padding::MaxLength, static_cast<int>(max_length_), true);
  s.input_ids = torch::tensor(tokens.input_ids[0], torch::kInt64);
  return s;
}

GroundingBatch collate(const std::vector<GroundingSample>& samples) {
  GroundingBatch b;
  for (const auto& s : samples) b.indices.push_back(s.index);
  b.pixel_values = stack_field(samples, &GroundingSample::pixel_values);
  b.boxes = stack_field(samples, &GroundingSample::boxes);
  b.masks = stack_field(samples, &GroundingSample::masks);
  b.text_embeddings = stack_field(samples, &GroundingSample::text_embeddings);
  b.input_ids = stack_field(samples, &GroundingSample::input_ids);
  return b;
}

}  // namespace gligen::data
