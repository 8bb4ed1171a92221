#include "core/detect/grounding_dino_processor.h"

#include "core/data/grounding_dataset.h"
#include "core/data/pil_resample.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::detect {

ImageProcessorConfig load_image_processor_config(const std::string& path) {
  ImageProcessorConfig c;
  if (!std::filesystem::exists(path)) return c;
  const auto j = read_json_file(path, "image processor config");
  const ConfigReader r(j, path, "Use the preprocessor_config.json that came with the Grounding DINO model.");
  r.read("do_resize", c.do_resize);
  r.read("do_rescale", c.do_rescale);
  r.read("rescale_factor", c.rescale_factor);
  r.read("do_normalize", c.do_normalize);
  int64_t resample = 2;
  r.read("resample", resample);
  if (resample != 2) r.fail("resample", "is " + std::to_string(resample) + "; only bilinear (2) is implemented");
  if (r.has("size")) {
    const ConfigReader size = r.nested("size");
    if (!size.has("shortest_edge") || !size.has("longest_edge")) {
      r.fail("size", "must give shortest_edge and longest_edge");
    }
    size.read("shortest_edge", c.shortest_edge);
    size.read("longest_edge", c.longest_edge);
    if (c.shortest_edge <= 0 || c.longest_edge <= 0) r.fail("size", "must be positive");
  }
  auto triple = [&](const char* key, std::array<double, 3>& out) {
    std::vector<double> v;
    r.read(key, v);
    if (!r.has(key)) return;
    if (v.size() == 1) v.assign(3, v[0]);
    if (v.size() != 3) r.fail(key, "must have 3 values (one per RGB channel)");
    std::copy(v.begin(), v.end(), out.begin());
  };
  triple("image_mean", c.image_mean);
  triple("image_std", c.image_std);
  for (double s : c.image_std) {
    if (s == 0.0) r.fail("image_std", "must not be 0");
  }
  return c;
}

std::pair<int, int> grounding_dino_resize_size(int height, int width, int64_t shortest, int64_t longest) {
  double size = double(shortest);
  const double min_side = std::min(height, width), max_side = std::max(height, width);
  if (max_side / min_side * size > double(longest)) {
    size = std::nearbyint(double(longest) * min_side / max_side);  // Python round: half to even
  }
  const int64_t s = static_cast<int64_t>(size);
  if ((height <= width && height == s) || (width <= height && width == s)) return {height, width};
  if (width < height) return {static_cast<int>(static_cast<double>(s * height) / width), static_cast<int>(s)};
  return {static_cast<int>(s), static_cast<int>(static_cast<double>(s * width) / height)};
}

PreparedImage preprocess_image(const data::Rgb8Image& image, const ImageProcessorConfig& c) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error("the detector got an empty or malformed image (" + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " with " + std::to_string(image.pixels.size()) +
                " bytes); decode it with load_image_rgb");
  }
  PreparedImage out;
  if (c.do_resize) {
    const auto [h, w] = grounding_dino_resize_size(image.height, image.width, c.shortest_edge, c.longest_edge);
    out.resized = data::resize_bilinear_pil(image, w, h);
  } else {
    out.resized = image;
  }
  const int h = out.resized.height, w = out.resized.width;
  out.pixel_values = torch::empty({1, 3, h, w}, torch::kFloat);
  float* dst = out.pixel_values.data_ptr<float>();
  const std::uint8_t* src = out.resized.pixels.data();
  const size_t plane = static_cast<size_t>(h) * w;
  for (int ch = 0; ch < 3; ++ch) {
    const float mean = static_cast<float>(c.image_mean[ch]), std = static_cast<float>(c.image_std[ch]);
    for (size_t i = 0; i < plane; ++i) {
      float v = src[i * 3 + ch];
      if (c.do_rescale) v = static_cast<float>(double(src[i * 3 + ch]) * c.rescale_factor);
      if (c.do_normalize) v = (v - mean) / std;
      dst[ch * plane + i] = v;
    }
  }
  out.pixel_mask = torch::ones({1, h, w}, torch::kLong);
  return out;
}

TextInputs prepare_text(const tokenizer::BertTokenizer& tokenizer, const std::string& text, int64_t max_text_len) {
  TextInputs t;
  t.ids = tokenizer.encode(text);
  const int64_t n = static_cast<int64_t>(t.ids.size());
  if (n > max_text_len) {
    throw Error("the detector text has " + std::to_string(n) + " tokens with [CLS] and [SEP], more than the " +
                std::to_string(max_text_len) + " the model reads (max_text_len); use fewer or shorter phrases");
  }
  t.input_ids = torch::tensor(t.ids, torch::kLong).unsqueeze(0);
  t.token_type_ids = torch::zeros({1, n}, torch::kLong);
  t.attention_mask = torch::ones({1, n}, torch::kLong);
  return t;
}

PostProcessed post_process_grounded(const torch::Tensor& logits_in, const torch::Tensor& pred_boxes_in,
                                    const std::vector<int64_t>& input_ids, const tokenizer::BertTokenizer& tokenizer,
                                    double box_threshold, double text_threshold, int target_height, int target_width) {
  auto logits = logits_in.detach().to(torch::kCPU, torch::kFloat);
  auto boxes_c = pred_boxes_in.detach().to(torch::kCPU, torch::kFloat);
  TORCH_CHECK(logits.dim() == 2 && boxes_c.dim() == 2 && boxes_c.size(1) == 4 && logits.size(0) == boxes_c.size(0),
              "post_process_grounded: logits [Q, T] and pred_boxes [Q, 4] expected");
  auto probs = torch::sigmoid(logits);
  auto scores = std::get<0>(probs.max(-1));
  auto parts = boxes_c.unbind(-1);
  auto corners = torch::stack(
      {parts[0] - 0.5 * parts[2], parts[1] - 0.5 * parts[3], parts[0] + 0.5 * parts[2], parts[1] + 0.5 * parts[3]}, -1);
  auto scale = torch::tensor({float(target_width), float(target_height), float(target_width), float(target_height)},
                             torch::kFloat);
  corners = corners * scale.unsqueeze(0);

  PostProcessed out;
  auto keep = scores > box_threshold;
  out.keep_queries = keep.nonzero().view(-1);
  out.scores = scores.index({keep});
  out.boxes = corners.index({keep});
  auto posmap = probs.index({keep}) > text_threshold;
  const int64_t t = posmap.size(1);
  posmap.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, 1)}, false);
  posmap.index_put_({torch::indexing::Slice(), torch::indexing::Slice(t - 1, torch::indexing::None)}, false);
  out.label_token_mask = posmap;

  const int64_t k = out.keep_queries.size(0);
  auto pm = posmap.accessor<bool, 2>();
  for (int64_t i = 0; i < k; ++i) {
    Detection d;
    d.query = out.keep_queries[i].item<int64_t>();
    d.score = out.scores[i].item<float>();
    for (int j = 0; j < 4; ++j) d.box[j] = out.boxes[i][j].item<float>();
    for (int64_t p = 0; p < t; ++p) {
      if (!pm[i][p]) continue;
      TORCH_CHECK(p < static_cast<int64_t>(input_ids.size()), "post_process_grounded: token ", p,
                  " above the text threshold lies beyond the text");
      d.label_token_ids.push_back(input_ids[p]);
    }
    d.label = tokenizer.decode(d.label_token_ids);
    out.detections.push_back(std::move(d));
  }
  return out;
}

std::vector<int64_t> nms(const torch::Tensor& boxes_in, const torch::Tensor& scores_in, double iou_threshold) {
  auto boxes = boxes_in.detach().to(torch::kCPU, torch::kFloat).contiguous();
  auto scores = scores_in.detach().to(torch::kCPU, torch::kFloat).contiguous();
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4 && scores.dim() == 1 && scores.size(0) == boxes.size(0),
              "nms: boxes [K, 4] and scores [K] expected");
  const int64_t n = boxes.size(0);
  if (n == 0) return {};
  auto x1_t = boxes.select(1, 0).contiguous(), y1_t = boxes.select(1, 1).contiguous();
  auto x2_t = boxes.select(1, 2).contiguous(), y2_t = boxes.select(1, 3).contiguous();
  auto areas_t = (x2_t - x1_t) * (y2_t - y1_t);
  auto order_t = std::get<1>(scores.sort(0, /*descending=*/true));
  const float *x1 = x1_t.data_ptr<float>(), *y1 = y1_t.data_ptr<float>(), *x2 = x2_t.data_ptr<float>(),
              *y2 = y2_t.data_ptr<float>(), *areas = areas_t.data_ptr<float>();
  const int64_t* order = order_t.data_ptr<int64_t>();
  std::vector<char> suppressed(static_cast<size_t>(n), 0);
  std::vector<int64_t> keep;
  for (int64_t a = 0; a < n; ++a) {
    const int64_t i = order[a];
    if (suppressed[i]) continue;
    keep.push_back(i);
    for (int64_t bb = a + 1; bb < n; ++bb) {
      const int64_t j = order[bb];
      if (suppressed[j]) continue;
      const float xx1 = std::max(x1[i], x1[j]), yy1 = std::max(y1[i], y1[j]);
      const float xx2 = std::min(x2[i], x2[j]), yy2 = std::min(y2[i], y2[j]);
      const float w = std::max(0.0f, xx2 - xx1), h = std::max(0.0f, yy2 - yy1);
      const float inter = w * h;
      const float ovr = inter / (areas[i] + areas[j] - inter);
      if (ovr > iou_threshold) suppressed[j] = 1;
    }
  }
  return keep;
}

std::array<int, 4> pil_crop_box(const std::array<float, 4>& box) {
  return data::pil_crop_rect({box[0], box[1], box[2], box[3]});
}

data::Rgb8Image load_image_rgb(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw Error("image " + path + " does not exist; check the path");
  auto image = data::read_rgb8(path);
  if (!image) throw Error("image " + path + " cannot be decoded (PNG, JPEG, WebP, BMP, TIFF are supported)");
  return std::move(*image);
}

}  // namespace gligen::detect
