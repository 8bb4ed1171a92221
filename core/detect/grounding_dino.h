// The Grounding DINO detector as the dataset job and the grounding check use it: a released
// Hugging Face GroundingDinoForObjectDetection folder (config.json, model.safetensors or .bin,
// preprocessor_config.json, vocab.txt + tokenizer_config.json) loads as it is, and detect() gives
// what the GLIGEN seed gets from
//   processor(images=image, text=text) -> model -> post_process_grounded_object_detection
//   (box_threshold, text_threshold, target_sizes=[(h, w)]) -> torchvision.ops.nms(boxes, scores, iou)
// i.e. boxes in the image's pixel coordinates, scores, and the phrase labels the processor
// assembles, in descending score order.
//
//   auto dino = gligen::detect::GroundingDino::load("models/grounding-dino-base");
//   auto image = gligen::detect::load_image_rgb("photo.jpg");
//   for (const auto& d : dino.detect(image, "cat. dog")) ...  // d.box, d.score, d.label
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/detect/grounding_dino_config.h"
#include "core/detect/grounding_dino_model.h"
#include "core/detect/grounding_dino_processor.h"
#include "core/io/state_dict.h"
#include "core/tokenizer/bert_tokenizer.h"

namespace gligen::detect {

struct DetectOptions {
  double box_threshold = 0.25;  // the seed's values
  double text_threshold = 0.2;
  // torchvision.ops.nms IoU threshold; a negative value skips NMS (all boxes above the box
  // threshold, in query order).
  double nms_iou = 0.5;
};

// Everything one detect() call produced, for callers that need more than the final boxes.
struct DetectionRun {
  PreparedImage image;
  TextInputs text;
  GroundingDinoOutputs outputs;
  PostProcessed post;                 // every query above the box threshold, query order
  std::vector<int64_t> nms_keep;      // indices into post.detections, descending score
  std::vector<Detection> detections;  // post.detections[nms_keep]
};

class GroundingDino {
 public:
  // Reads the folder and loads the weights strictly (see load_grounding_dino_weights). Float32 on
  // the CPU; float16 / bfloat16 need a CUDA device. Throws gligen::Error naming the folder and
  // the problem.
  static GroundingDino load(const std::string& folder, torch::Device device = torch::kCPU,
                            torch::ScalarType dtype = torch::kFloat32);

  // Detections after NMS, highest score first. `text` is the detector prompt ("cat. dog").
  std::vector<Detection> detect(const data::Rgb8Image& image, const std::string& text,
                                const DetectOptions& options = {}) const;
  // The whole run; `trace` (optional) receives the network's intermediate tensors.
  DetectionRun run(const data::Rgb8Image& image, const std::string& text, const DetectOptions& options = {},
                   Trace* trace = nullptr) const;

  const GroundingDinoConfig& config() const { return config_; }
  const tokenizer::BertTokenizer& tokenizer() const { return *tokenizer_; }
  const ImageProcessorConfig& image_processor() const { return image_processor_; }
  GroundingDinoForObjectDetection& model() const { return model_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }

 private:
  GroundingDinoConfig config_;
  std::shared_ptr<tokenizer::BertTokenizer> tokenizer_;
  ImageProcessorConfig image_processor_;
  mutable GroundingDinoForObjectDetection model_{nullptr};
  torch::Device device_ = torch::kCPU;
  torch::ScalarType dtype_ = torch::kFloat32;
};

// Puts a checkpoint's tensors into `model` strictly: every parameter and buffer must be present
// with its shape, nothing else may be. The tied box-head names save_pretrained leaves out
// (grounding_dino_tied_keys) are accepted when present (a .bin file has them) if their shape
// matches, and supply bbox_embed.0 when only they are present; BERT's non-persistent
// position_ids / token_type_ids buffers of older files are dropped. `what` names the source in
// the error.
void load_grounding_dino_weights(GroundingDinoForObjectDetection& model, io::StateDict weights,
                                 const std::string& what);

// The state dict as save_pretrained writes it (tied copies left out), e.g. for init-model.
io::StateDict grounding_dino_state_dict(const GroundingDinoForObjectDetection& model);

}  // namespace gligen::detect
