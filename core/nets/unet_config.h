// Configuration of diffusers' UNet2DConditionModel (v0.27.2), read from unet/config.json.
// Every missing (or null) key takes the UNet2DConditionModel class default, as diffusers'
// from_config does; per-block keys given as one value are broadcast to every block. A key whose
// value this engine does not implement is refused with a gligen::Error naming key and value.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gligen::nets {

struct UNetConfig {
  // Defaults are UNet2DConditionModel.__init__'s (diffusers v0.27.2).
  std::vector<int64_t> sample_size;  // empty (null), [s] or [h, w]
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  std::vector<std::string> down_block_types{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                            "DownBlock2D"};
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";  // "" = no mid block (null in the file)
  std::vector<std::string> up_block_types{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                          "CrossAttnUpBlock2D"};
  std::vector<bool> only_cross_attention;       // per down block
  bool mid_block_only_cross_attention = false;  // recorded; the cross-attention mid block ignores it
  std::vector<int64_t> block_out_channels{320, 640, 1280, 1280};
  std::vector<int64_t> layers_per_block;  // per down block (up blocks use one more)
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  double dropout = 0.0;
  std::string act_fn = "silu";
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  std::vector<int64_t> cross_attention_dim;           // per down block (default 1280)
  std::vector<int64_t> transformer_layers_per_block;  // per down block
  // Attention heads per down block. SD 1.x configs name this `attention_head_dim` (a legacy
  // misnomer that diffusers keeps): it is the head COUNT, and the head width is channels / heads.
  std::vector<int64_t> num_attention_heads;
  bool use_linear_projection = false;
  bool upcast_attention = false;
  std::string resnet_time_scale_shift = "default";
  std::string time_embedding_type = "positional";
  int64_t time_embedding_dim = 0;  // 0 = 4 * block_out_channels[0]
  int64_t conv_in_kernel = 3;
  int64_t conv_out_kernel = 3;
  std::string attention_type = "default";  // "gated" = GLIGEN text-box UNet

  bool is_gated() const { return attention_type == "gated"; }
  int64_t time_embed_dim() const { return time_embedding_dim > 0 ? time_embedding_dim : 4 * block_out_channels.at(0); }
  // Width of the phrase embeddings the position net takes (diffusers: cross_attention_dim[0]).
  int64_t positive_len() const { return cross_attention_dim.at(0); }

  // Throws gligen::Error when the combination cannot be built. `source` names the file.
  void validate(const std::string& source = "UNet config") const;
};

// Parses a UNet2DConditionModel config object, fills class defaults and validates it.
UNetConfig unet_config_from_json(const nlohmann::json& json, const std::string& source = "UNet config");

// Reads and parses `path` (a unet/config.json). Throws gligen::Error when missing or invalid.
UNetConfig load_unet_config(const std::string& path);

}  // namespace gligen::nets
