// The network of RAM (recognize-anything, Zhang et al. 2023) that `generate_tag` runs: the Swin
// image encoder, the image projection, the label queries and the Q2L tagging head, with the
// reference's module names so the checkpoint's `checkpoint["model"]` keys equal this module's
// named_parameters():
//   label_embed                       [num_classes, 512]
//   visual_encoder.*                  (core/nets/ram_swin.h)
//   image_proj.{weight,bias}          vision_width -> 512
//   wordvec_proj.{weight,bias}        512 -> hidden (absent when hidden is 512: the identity)
//   tagging_head.encoder.layer.L.*    (nets::BertCrossAttentionLayer, key/value from 512)
//   fc.{weight,bias}                  hidden -> 1
// The captioning branch (tag_encoder, text_decoder) is not built: generate_tag does not use it.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/nets/bert.h"
#include "core/nets/bert_config.h"
#include "core/nets/ram_swin.h"

namespace gligen::tag {

// The repository configuration RAM is built from. The defaults are the released model's
// (recognize-anything ram/configs/swin/config_swinL_384.json, q2l_config.json, med_config.json
// and its 4585 tags).
struct RamConfig {
  nets::RamSwinConfig swin;
  nets::BertConfig q2l;             // the tagging head; its encoder_width is 512 in the reference's code
  nets::BertConfig med;             // tag_encoder / text_decoder: only for writing a full checkpoint
  int64_t med_encoder_width = 768;  // med_config.json's encoder_width: text_decoder's cross-attention input
  int64_t num_classes = 4585;
  static constexpr int64_t kEmbedDim = 512;  // image_proj output and label_embed width (fixed in code)

  RamConfig();  // the released model's
};

// Reads configs/ files over `config`: `<dir>/swin/*.json` (exactly one file, or the one named
// config_swinL_<image_res>.json), `<dir>/q2l_config.json`, `<dir>/med_config.json`. Absent files
// leave their part as it is; a file that is present but malformed throws gligen::Error naming it.
void read_ram_configs(const std::string& dir, RamConfig& config);

class RamTaggingHeadImpl : public torch::nn::Module {
 public:
  explicit RamTaggingHeadImpl(const nets::BertConfig& config);
  using Probe = std::function<void(const std::string&, const torch::Tensor&)>;
  // queries: [B, C, H]; image_embeds: [B, N, 512] -> [B, C, H]. Probe names are relative to
  // tagging_head: "encoder.layer.L.crossattention", "encoder.layer.L".
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& image_embeds, const Probe& probe = nullptr);
  torch::nn::ModuleList layers{nullptr};  // "encoder.layer"
};
TORCH_MODULE(RamTaggingHead);

class RamModelImpl : public torch::nn::Module {
 public:
  explicit RamModelImpl(const RamConfig& config);

  // Called with intermediate results under the reference's module paths ("visual_encoder",
  // "visual_encoder.layers.0", "image_proj", "wordvec_proj", "label_embed_relu",
  // "tagging_head.encoder.layer.0.crossattention", "tagging_head", "fc", "logits").
  using Probe = std::function<void(const std::string&, const torch::Tensor&)>;
  // pixel_values: [B, 3, image_res, image_res] normalised -> logits [B, num_classes].
  torch::Tensor forward(const torch::Tensor& pixel_values, const Probe& probe = nullptr);

  // Moves parameters and the encoder's computed index / mask tensors.
  void to_device(torch::Device device, torch::ScalarType dtype);

  const RamConfig& config() const { return config_; }

  torch::Tensor label_embed;
  nets::RamSwinTransformer visual_encoder{nullptr};
  torch::nn::Linear image_proj{nullptr};
  torch::nn::Linear wordvec_proj{nullptr};  // null when the head's width is 512
  RamTaggingHead tagging_head{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  RamConfig config_;
};
TORCH_MODULE(RamModel);

}  // namespace gligen::tag
