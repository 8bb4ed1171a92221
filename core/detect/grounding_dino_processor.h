// The processing around Grounding DINO, exact to transformers' GroundingDinoProcessor (v4.40) as
// the GLIGEN seed uses it (make_datasets.py): image preprocessing, text inputs, and
// post_process_grounded_object_detection followed by torchvision.ops.nms.
#pragma once
#include <torch/torch.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/data/pil_resample.h"
#include "core/tokenizer/bert_tokenizer.h"

namespace gligen::detect {

// preprocessor_config.json (GroundingDinoImageProcessor). Unknown keys are ignored.
struct ImageProcessorConfig {
  bool do_resize = true;
  int64_t shortest_edge = 800, longest_edge = 1333;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean{0.485, 0.456, 0.406};
  std::array<double, 3> image_std{0.229, 0.224, 0.225};
};
// Reads `path`; an absent file gives the defaults. Resampling other than bilinear (2), a size
// other than {shortest_edge, longest_edge}, or per-image padding options that change one image
// are refused with gligen::Error naming the key.
ImageProcessorConfig load_image_processor_config(const std::string& path);

// get_size_with_aspect_ratio(size=shortest, max_size=longest) for an image of height x width:
// the short side becomes `shortest` unless the long side would exceed `longest`, in which case
// the short side becomes round(longest * short / long) (half to even); the long side is then
// int(short_new * long / short) (truncated), so it can exceed `longest`. An image whose short side
// already has the target size is kept. Returns {height, width}.
std::pair<int, int> grounding_dino_resize_size(int height, int width, int64_t shortest, int64_t longest);

struct PreparedImage {
  data::Rgb8Image resized;     // the processor's uint8 image before rescale / normalise
  torch::Tensor pixel_values;  // float32 [1, 3, H, W]
  torch::Tensor pixel_mask;    // int64 [1, H, W], all ones (one image: no padding)
};
// Pillow's antialiased bilinear resize (core/data/pil_resample), then
// (float32(u8 * rescale_factor) - mean) / std in float32, CHW.
PreparedImage preprocess_image(const data::Rgb8Image& image, const ImageProcessorConfig& config);

struct TextInputs {
  std::vector<int64_t> ids;      // [CLS] ... [SEP]
  torch::Tensor input_ids;       // int64 [1, L]
  torch::Tensor token_type_ids;  // int64 [1, L], zeros
  torch::Tensor attention_mask;  // int64 [1, L], ones
};
// Tokenizes the detector text as the processor does ("cat. dog", or "cat. dog ." with a final
// period: both work; see grounding_dino_text_masks for what the period changes). More than
// max_text_len tokens is a gligen::Error that says how many there are.
TextInputs prepare_text(const tokenizer::BertTokenizer& tokenizer, const std::string& text, int64_t max_text_len);

struct Detection {
  std::array<float, 4> box{};  // x0, y0, x1, y1 in pixels of the original image (may lie outside it)
  float score = 0;             // max over the text tokens of sigmoid(logit)
  std::string label;           // the tokens above the text threshold, decoded
  std::vector<int64_t> label_token_ids;
  int64_t query = 0;  // decoder query index
};

struct PostProcessed {
  std::vector<Detection> detections;  // queries with score > box_threshold, in query order
  torch::Tensor keep_queries;         // int64 [K]
  torch::Tensor scores;               // float32 [K]
  torch::Tensor boxes;                // float32 [K, 4]
  torch::Tensor label_token_mask;     // bool [K, T]
};
// post_process_grounded_object_detection for one image: logits [Q, T], pred_boxes [Q, 4]
// (cx, cy, w, h in [0, 1]); boxes scaled by the original width / height; label tokens are the
// positions with prob > text_threshold except the first and the last slot (T - 1), decoded with
// tokenizer.decode (special tokens kept), so a label can be empty or contain "[SEP]" and pieces.
// Comparisons are strict and in float32, as in the reference.
PostProcessed post_process_grounded(const torch::Tensor& logits, const torch::Tensor& pred_boxes,
                                    const std::vector<int64_t>& input_ids, const tokenizer::BertTokenizer& tokenizer,
                                    double box_threshold, double text_threshold, int target_height, int target_width);

// torchvision.ops.nms on the CPU (0.14): boxes [K, 4] (x0, y0, x1, y1), scores [K]; visits boxes
// by descending score (torch's sort, so ties keep its order) and drops boxes whose IoU with a
// kept box exceeds iou_threshold. Returns the kept indices in visiting order.
std::vector<int64_t> nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);

// The integer box PIL's Image.crop(box.tolist()) cuts (each coordinate rounded half to even);
// the next stage (the captioner) crops the detections with it, filling outside the image with black.
std::array<int, 4> pil_crop_box(const std::array<float, 4>& box);

// Decodes an image file to 8-bit RGB as PIL's Image.open(path).convert("RGB") does for the usual
// formats: EXIF orientation is not applied, grey and palette images are expanded, alpha is dropped.
data::Rgb8Image load_image_rgb(const std::string& path);

}  // namespace gligen::detect
