#include "core/detect/grounding_dino.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "core/io/weights.h"
#include "core/nets/module_tree.h"
#include "core/util/error.h"

namespace gligen::detect {
namespace fs = std::filesystem;

void load_grounding_dino_weights(GroundingDinoForObjectDetection& model, io::StateDict weights,
                                 const std::string& what) {
  std::vector<std::string> problems;
  for (const auto& [alias, stored] : grounding_dino_tied_keys(model->config())) {
    auto it = weights.find(alias);
    if (it == weights.end()) continue;
    auto target = weights.find(stored);
    if (target == weights.end()) {
      weights[stored] = it->second;
    } else if (target->second.sizes() != it->second.sizes()) {
      std::ostringstream os;
      os << alias << " " << it->second.sizes() << " is tied to " << stored << " " << target->second.sizes()
         << " but has another shape";
      problems.push_back(os.str());
    }
    weights.erase(alias);
  }
  if (!problems.empty()) {
    std::string msg = "the weights do not fit " + what + ":";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(msg);
  }
  static const std::set<std::string> ignored{"model.text_backbone.embeddings.position_ids",
                                             "model.text_backbone.embeddings.token_type_ids"};
  io::load_strict(*model, weights, what, ignored, io::WeightSharing::ShareWhenPossible);
}

io::StateDict grounding_dino_state_dict(const GroundingDinoForObjectDetection& model) {
  io::StateDict out;
  for (const auto& p : model->named_parameters(true)) out[p.key()] = p.value();
  for (const auto& b : model->named_buffers(true)) out[b.key()] = b.value();
  return out;
}

GroundingDino GroundingDino::load(const std::string& folder, torch::Device device, torch::ScalarType dtype) {
  const fs::path dir(folder);
  if (!fs::is_directory(dir)) {
    throw Error("Grounding DINO folder " + folder +
                " does not exist. Download it with "
                "`hf download IDEA-Research/grounding-dino-base --local-dir " +
                folder + "`.");
  }
  if (!fs::exists(dir / "config.json")) {
    throw Error(folder +
                " has no config.json; point to a GroundingDinoForObjectDetection folder "
                "(IDEA-Research/grounding-dino-base).");
  }
  if (device.is_cpu() && dtype != torch::kFloat32) {
    throw Error("the detector runs in float32 on the CPU; float16 / bfloat16 need a CUDA device");
  }
  GroundingDino d;
  d.config_ = load_grounding_dino_config((dir / "config.json").string());
  d.image_processor_ = load_image_processor_config((dir / "preprocessor_config.json").string());
  d.tokenizer_ = std::make_shared<tokenizer::BertTokenizer>(tokenizer::BertTokenizer::from_folder(folder));
  if (d.tokenizer_->vocab_size() > d.config_.text.vocab_size) {
    throw Error(folder + ": the tokenizer has " + std::to_string(d.tokenizer_->vocab_size()) +
                " tokens but the text model only " + std::to_string(d.config_.text.vocab_size) +
                "; vocab.txt and config.json do not belong together");
  }
  d.model_ = GroundingDinoForObjectDetection(d.config_);
  io::WeightLoadOptions options;
  options.mapping = MapAccess::ReadOnly;
  load_grounding_dino_weights(d.model_, io::load_component_weights(folder, options),
                              "the Grounding DINO model in " + folder);
  nets::module_to(*d.model_, device, dtype);
  d.model_->eval();
  d.device_ = device;
  d.dtype_ = dtype;
  return d;
}

DetectionRun GroundingDino::run(const data::Rgb8Image& image, const std::string& text, const DetectOptions& options,
                                Trace* trace) const {
  torch::NoGradGuard no_grad;
  DetectionRun r;
  r.text = prepare_text(*tokenizer_, text, config_.max_text_len);
  r.image = preprocess_image(image, image_processor_);
  GroundingDinoInputs in;
  in.pixel_values = r.image.pixel_values.to(device_, dtype_);
  in.pixel_mask = r.image.pixel_mask.to(device_);
  in.input_ids = r.text.input_ids.to(device_);
  in.token_type_ids = r.text.token_type_ids.to(device_);
  in.attention_mask = r.text.attention_mask.to(device_);
  r.outputs = model_->forward(in, trace);
  r.post = post_process_grounded(r.outputs.logits[0], r.outputs.pred_boxes[0], r.text.ids, *tokenizer_,
                                 options.box_threshold, options.text_threshold, image.height, image.width);
  if (options.nms_iou >= 0) {
    r.nms_keep = nms(r.post.boxes, r.post.scores, options.nms_iou);
  } else {
    for (size_t i = 0; i < r.post.detections.size(); ++i) r.nms_keep.push_back(static_cast<int64_t>(i));
  }
  for (auto i : r.nms_keep) r.detections.push_back(r.post.detections[static_cast<size_t>(i)]);
  return r;
}

std::vector<Detection> GroundingDino::detect(const data::Rgb8Image& image, const std::string& text,
                                             const DetectOptions& options) const {
  return run(image, text, options).detections;
}

}  // namespace gligen::detect
