// Configuration of transformers' Swin Transformer (SwinConfig, v4.40), as it appears in a
// config.json of its own or nested in another model's (Grounding DINO's "backbone_config").
// A key the file lacks takes the SwinConfig default, as transformers does; "hidden_size" is
// derived and ignored. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gligen {
class ConfigReader;
}

namespace gligen::nets {

struct SwinConfig {
  int64_t image_height = 224, image_width = 224;  // "image_size": an int or [height, width]
  int64_t patch_height = 4, patch_width = 4;      // "patch_size": an int or [height, width]
  int64_t num_channels = 3;
  int64_t embed_dim = 96;
  std::vector<int64_t> depths{2, 2, 6, 2};
  std::vector<int64_t> num_heads{3, 6, 12, 24};
  int64_t window_size = 7;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double hidden_dropout_prob = 0.0;           // recorded only (inference)
  double attention_probs_dropout_prob = 0.0;  // recorded only
  double drop_path_rate = 0.1;                // recorded only (identity in eval)
  std::string hidden_act = "gelu";
  bool use_absolute_embeddings = false;
  double layer_norm_eps = 1e-5;  // the blocks' LayerNorms; the embedding and output norms use 1e-5
  // Stages whose outputs a backbone returns: "stem" (the patch embeddings) and "stage1".."stageN"
  // (each stage's output before its patch merging). Aligned as transformers'
  // get_aligned_output_features_output_indices does: both absent -> the last stage.
  std::vector<std::string> out_features;
  std::vector<int64_t> out_indices;

  int64_t num_stages() const { return static_cast<int64_t>(depths.size()); }
  // Channels of stage i's blocks (1-based as in "stage1"): embed_dim * 2^(i-1); stem: embed_dim.
  int64_t stage_channels(int64_t stage_index) const;
  std::vector<std::string> stage_names() const;  // {"stem", "stage1", ...}
  int64_t mlp_hidden(int64_t dim) const { return static_cast<int64_t>(mlp_ratio * dim); }

  // Throws gligen::Error (naming `source`) for sizes that cannot be built.
  void validate(const std::string& source) const;
};

// Reads a SwinConfig object (absent keys keep the defaults) and validates it.
SwinConfig swin_config_from(const ConfigReader& reader);

}  // namespace gligen::nets
