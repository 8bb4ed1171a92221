// Configuration of transformers' GroundingDinoForObjectDetection (GroundingDinoConfig, v4.40),
// read from the config.json of a released folder (IDEA-Research/grounding-dino-base/-tiny).
// The nested "backbone_config" (Swin) and "text_config" (BERT) are written by save_pretrained as
// differences from their class defaults, so absent keys take SwinConfig / BertConfig defaults, and
// absent Grounding DINO keys take the GroundingDinoConfig defaults; an absent backbone_config is
// the Swin-T transformers builds then. Options the released models do not use and this engine does
// not implement (timm or named backbones, learned position embeddings, single-stage queries,
// shared two-stage box heads) are refused with a message naming the key. No LibTorch here.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "core/nets/bert_config.h"
#include "core/nets/swin_config.h"

namespace gligen::detect {

struct GroundingDinoConfig {
  nets::SwinConfig backbone;
  nets::BertConfig text;
  int64_t num_queries = 900;
  int64_t encoder_layers = 6;
  int64_t encoder_ffn_dim = 2048;
  int64_t encoder_attention_heads = 8;
  int64_t decoder_layers = 6;
  int64_t decoder_ffn_dim = 2048;
  int64_t decoder_attention_heads = 8;
  std::string activation_function = "relu";
  int64_t d_model = 256;
  std::string position_embedding_type = "sine";
  int64_t num_feature_levels = 4;
  int64_t encoder_n_points = 4;
  int64_t decoder_n_points = 4;
  bool two_stage = true;
  int64_t max_text_len = 256;
  bool embedding_init_target = true;
  int64_t query_dim = 4;
  bool decoder_bbox_embed_share = true;  // recorded: transformers 4.40 shares the head either way
  bool two_stage_bbox_embed_share = false;
  double positional_embedding_temperature = 20;
  double layer_norm_eps = 1e-5;
  // Recorded only (training / inference without effect): dropout, attention_dropout,
  // activation_dropout, fusion_droppath, fusion_dropout, text_enhancer_dropout, losses.

  // The backbone stages the detector reads (backbone.out_indices), and their channels.
  int64_t num_backbone_levels() const { return static_cast<int64_t>(backbone.out_indices.size()); }
  int64_t backbone_channels(int64_t level) const { return backbone.stage_channels(backbone.out_indices.at(level)); }
  // The fusion (bi-attention) and text-enhancer sizes transformers derives.
  int64_t fusion_embed_dim() const { return encoder_ffn_dim / 2; }
  int64_t fusion_heads() const { return encoder_attention_heads / 2; }

  // Throws gligen::Error naming `source` and the key.
  void validate(const std::string& source) const;
};

// Parses a config.json object. Throws gligen::Error naming `source` on any problem.
GroundingDinoConfig grounding_dino_config_from_json(const nlohmann::json& json, const std::string& source);
// Reads `path` (a model folder's config.json).
GroundingDinoConfig load_grounding_dino_config(const std::string& path);

}  // namespace gligen::detect
