// transformers' GroundingDinoForObjectDetection (v4.40) in LibTorch: Swin backbone, BERT text
// backbone, feature projections and sine position embeddings, the encoder (bi-directional
// fusion, text enhancer, multi-scale deformable self-attention), two-stage proposals and top-k,
// the decoder with iterative box refinement, and the heads (class logits against the text
// tokens, boxes). The computation follows the reference op by op, so float32 results match it to
// rounding; the numerical traps are listed in ../shared/fixtures/datagen/grounding-dino/README.md.
//
// Modules are registered under the transformers names; the checkpoint keys equal
// named_parameters() + named_buffers() except the tied box head: the file stores
// `bbox_embed.0.*` once, and `bbox_embed.1..N-1.*` / `model.decoder.bbox_embed.*` are the same
// module (see grounding_dino_tied_keys()).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/detect/deformable_attention.h"
#include "core/detect/grounding_dino_config.h"
#include "core/nets/bert.h"
#include "core/nets/hf_activation.h"
#include "core/nets/swin.h"

namespace gligen::detect {

// Intermediate tensors by the fixture names (module paths as in the state dict, ":field" for an
// output field, ":in.name" for an input), recorded when a Trace is passed to forward().
using Trace = std::map<std::string, torch::Tensor>;

// The special token ids the model hard-codes ([CLS], [SEP], '.', '?' of bert-base-uncased) to
// split the text into phrases.
const std::vector<int64_t>& grounding_dino_special_token_ids();

// generate_masks_with_special_tokens_and_transfer_map: per phrase (tokens between two special
// tokens) a block of mutual attention and positions restarting at 0; [CLS], the last token and
// tokens after the last special token attend only to themselves with position 0.
// input_ids [B, L] -> {self_attention_mask bool [B, L, L], position_ids int64 [B, L]}.
std::pair<torch::Tensor, torch::Tensor> grounding_dino_text_masks(const torch::Tensor& input_ids);

// get_sine_pos_embed: each of the n coordinates of pos [..., n] becomes num_pos_feats
// interleaved sin/cos features of pos * 2pi / temperature^(2 floor(i/2) / num_pos_feats);
// exchange_xy swaps the first two blocks. Computed in float32.
torch::Tensor sine_position_features(const torch::Tensor& pos, int64_t num_pos_feats, double temperature,
                                     bool exchange_xy);

// GroundingDinoMLPPredictionHead: Linear layers ("layers.i") with ReLU between.
class MlpHeadImpl : public torch::nn::Module {
 public:
  MlpHeadImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim, int64_t num_layers);
  torch::Tensor forward(torch::Tensor x);
  std::vector<torch::nn::Linear> linears;
};
TORCH_MODULE(MlpHead);

// GroundingDinoMultiheadAttention: query / key / value / out_proj, scores scaled after the product.
class GdMultiheadAttentionImpl : public torch::nn::Module {
 public:
  GdMultiheadAttentionImpl(int64_t d_model, int64_t num_heads);
  // additive_mask broadcastable to [B, heads, Lq, Lk], or undefined.
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& values,
                        const torch::Tensor& additive_mask = {});
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_, head_dim_;
};
TORCH_MODULE(GdMultiheadAttention);

// GroundingDinoBiMultiHeadAttention (the fusion's "attn").
class BiMultiHeadAttentionImpl : public torch::nn::Module {
 public:
  explicit BiMultiHeadAttentionImpl(const GroundingDinoConfig& config);
  // vision [B, Nv, D], text [B, Nt, D]; vision_padding [B, Nv] / text_padding [B, Nt] bool, true
  // where padded, or undefined. Returns {delta_vision, delta_text}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& vision, const torch::Tensor& text,
                                                  const torch::Tensor& vision_padding,
                                                  const torch::Tensor& text_padding);
  torch::nn::Linear vision_proj{nullptr}, text_proj{nullptr}, values_vision_proj{nullptr}, values_text_proj{nullptr},
      out_vision_proj{nullptr}, out_text_proj{nullptr};

 private:
  int64_t embed_dim_, heads_, head_dim_;
  double scale_;
};
TORCH_MODULE(BiMultiHeadAttention);

class FusionLayerImpl : public torch::nn::Module {
 public:
  explicit FusionLayerImpl(const GroundingDinoConfig& config);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& vision, const torch::Tensor& text,
                                                  const torch::Tensor& vision_padding,
                                                  const torch::Tensor& text_padding);
  torch::nn::LayerNorm layer_norm_vision{nullptr}, layer_norm_text{nullptr};
  BiMultiHeadAttention attn{nullptr};
  torch::Tensor vision_param, text_param;
};
TORCH_MODULE(FusionLayer);

class TextEnhancerLayerImpl : public torch::nn::Module {
 public:
  explicit TextEnhancerLayerImpl(const GroundingDinoConfig& config);
  // text [B, L, D]; self_attention_mask bool [B, L, L] (true = allowed); position_embeddings [B, L, D].
  torch::Tensor forward(const torch::Tensor& text, const torch::Tensor& self_attention_mask,
                        const torch::Tensor& position_embeddings);
  GdMultiheadAttention self_attn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::LayerNorm layer_norm_before{nullptr}, layer_norm_after{nullptr};

 private:
  nets::HfActivation act_;
};
TORCH_MODULE(TextEnhancerLayer);

// The vision features' geometry shared by the encoder and decoder.
struct Levels {
  std::vector<std::pair<int64_t, int64_t>> shapes;  // (H, W) per level
  torch::Tensor spatial_shapes;                     // int64 [L, 2]
  torch::Tensor level_start_index;                  // int64 [L]
  torch::Tensor valid_ratios;                       // float32 [B, L, 2] (w, h)
};

class DeformableLayerImpl : public torch::nn::Module {
 public:
  explicit DeformableLayerImpl(const GroundingDinoConfig& config);
  torch::Tensor forward(const torch::Tensor& vision, const torch::Tensor& valid_mask,
                        const torch::Tensor& position_embeddings, const torch::Tensor& reference_points,
                        const Levels& levels);
  MultiscaleDeformableAttention self_attn{nullptr};
  torch::nn::LayerNorm self_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  nets::HfActivation act_;
};
TORCH_MODULE(DeformableLayer);

class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const GroundingDinoConfig& config);
  TextEnhancerLayer text_enhancer_layer{nullptr};
  FusionLayer fusion_layer{nullptr};
  DeformableLayer deformable_layer{nullptr};
};
TORCH_MODULE(EncoderLayer);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const GroundingDinoConfig& config);
  // hidden [B, Q, D]; reference_points [B, Q, L, 4]; vision [B, S, D] with valid_mask [B, S];
  // text [B, L, D] (the text cross-attention is not masked, as in transformers 4.40).
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& position_embeddings,
                        const torch::Tensor& reference_points, const Levels& levels, const torch::Tensor& vision,
                        const torch::Tensor& valid_mask, const torch::Tensor& text);
  GdMultiheadAttention self_attn{nullptr}, encoder_attn_text{nullptr};
  MultiscaleDeformableAttention encoder_attn{nullptr};
  torch::nn::LayerNorm self_attn_layer_norm{nullptr}, encoder_attn_text_layer_norm{nullptr},
      encoder_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  nets::HfActivation act_;
};
TORCH_MODULE(DecoderLayer);

struct GroundingDinoInputs {
  torch::Tensor pixel_values;    // float [B, 3, H, W]
  torch::Tensor pixel_mask;      // int64 / bool [B, H, W], 1 where the image is; undefined = all ones
  torch::Tensor input_ids;       // int64 [B, L], L <= max_text_len
  torch::Tensor token_type_ids;  // int64 [B, L], or undefined (zeros)
  torch::Tensor attention_mask;  // int64 [B, L], or undefined (ones)
};

struct GroundingDinoOutputs {
  torch::Tensor logits;      // float [B, Q, max_text_len]; -inf for masked tokens and beyond L
  torch::Tensor pred_boxes;  // float [B, Q, 4] (cx, cy, w, h) relative to the padded image
};

class GroundingDinoModelImpl : public torch::nn::Module {
 public:
  explicit GroundingDinoModelImpl(const GroundingDinoConfig& config);

  nets::SwinBackbone backbone{nullptr};           // "backbone.conv_encoder.model"
  std::vector<torch::nn::Sequential> input_proj;  // "input_proj_vision.i" = [Conv2d, GroupNorm]
  nets::BertModel text_backbone{nullptr};
  torch::nn::Linear text_projection{nullptr};
  torch::nn::Embedding query_position_embeddings{nullptr};  // with embedding_init_target
  std::vector<EncoderLayer> encoder_layers;                 // "encoder.layers.i"
  std::vector<DecoderLayer> decoder_layers;                 // "decoder.layers.i"
  torch::nn::LayerNorm decoder_layer_norm{nullptr};         // "decoder.layer_norm"
  MlpHead reference_points_head{nullptr};                   // "decoder.reference_points_head"
  torch::Tensor level_embed;
  torch::nn::Linear enc_output{nullptr};
  torch::nn::LayerNorm enc_output_norm{nullptr};
  MlpHead encoder_output_bbox_embed{nullptr};
};
TORCH_MODULE(GroundingDinoModel);

class GroundingDinoForObjectDetectionImpl : public torch::nn::Module {
 public:
  explicit GroundingDinoForObjectDetectionImpl(const GroundingDinoConfig& config);

  // Runs the detector. Throws gligen::Error for inputs the model cannot take (more than
  // max_text_len tokens: transformers truncates the text but not the class-head mask and fails;
  // ids outside the vocabulary; wrong shapes). `trace`, when set, receives intermediates.
  GroundingDinoOutputs forward(const GroundingDinoInputs& inputs, Trace* trace = nullptr);

  const GroundingDinoConfig& config() const { return config_; }

  GroundingDinoModel model{nullptr};
  MlpHead bbox_embed{nullptr};  // "bbox_embed.0", shared by every decoder layer and the head

 private:
  GroundingDinoConfig config_;
};
TORCH_MODULE(GroundingDinoForObjectDetection);

// The checkpoint names of the tied box head that save_pretrained does not store, each with the
// stored name it equals (bbox_embed.i.* and model.decoder.bbox_embed.i.* -> bbox_embed.0.*).
std::map<std::string, std::string> grounding_dino_tied_keys(const GroundingDinoConfig& config);

}  // namespace gligen::detect
