// Configuration of diffusers' AutoencoderKL (v0.27.2), read from a pipeline's vae/config.json.
// A key that the file lacks takes the AutoencoderKL class default, as diffusers' from_config does;
// a key with the wrong type, or an architecture this engine does not implement, is refused with a
// gligen::Error that names the file and the key.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gligen::nets {

struct VaeConfig {
  // Defaults are AutoencoderKL.__init__'s (diffusers v0.27.2), not SD 1.x's values.
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  std::vector<std::string> down_block_types{"DownEncoderBlock2D"};
  std::vector<std::string> up_block_types{"UpDecoderBlock2D"};
  std::vector<int64_t> block_out_channels{64};
  int64_t layers_per_block = 1;
  std::string act_fn = "silu";
  int64_t latent_channels = 4;
  int64_t norm_num_groups = 32;
  int64_t sample_size = 32;  // image side; a [h, w] list in the file keeps its first entry, as diffusers
  double scaling_factor = 0.18215;
  bool force_upcast = true;
  // Per-channel latent statistics (SDXL-era configs); null in SD 1.x. Recorded, not applied:
  // the SD 1.x pipelines of diffusers v0.27.2 only use scaling_factor.
  std::optional<std::vector<double>> latents_mean;
  std::optional<std::vector<double>> latents_std;
  // Newer diffusers keys (absent from v0.27.2). mid_block_add_attention = false removes the
  // mid-block attentions, so its weights must then be absent too; shift_factor is recorded only.
  bool mid_block_add_attention = true;
  std::optional<double> shift_factor;

  // Image pixels per latent pixel along one side: 2^(number of blocks - 1).
  int64_t downscale_factor() const { return int64_t(1) << (block_out_channels.size() - 1); }

  // Throws gligen::Error when the combination cannot be built (unknown block type, mismatched
  // list lengths, channels not divisible by the group count, ...). `source` names the file.
  void validate(const std::string& source = "VAE config") const;
};

// Parses an AutoencoderKL config object and validates it. `source` is used in messages.
VaeConfig vae_config_from_json(const nlohmann::json& json, const std::string& source = "VAE config");

// Reads and parses `path` (a vae/config.json). Throws gligen::Error when it is missing or invalid.
VaeConfig load_vae_config(const std::string& path);

}  // namespace gligen::nets
