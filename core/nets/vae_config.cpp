#include "core/nets/vae_config.h"

#include <nlohmann/json.hpp>

#include "core/nets/activation.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace {

using nlohmann::json;

const char* const kFix = "Fix the file or use the vae/config.json that came with the model.";

}  // namespace

void VaeConfig::validate(const std::string& source) const {
  auto fail = [&](const std::string& what) {
    throw Error(source + ": " + what +
                ". This engine implements the Stable Diffusion AutoencoderKL "
                "(DownEncoderBlock2D / UpDecoderBlock2D blocks); use that model's vae/config.json.");
  };
  if (block_out_channels.empty()) fail("\"block_out_channels\" is empty");
  if (block_out_channels.size() > 8) fail("\"block_out_channels\" has more than 8 entries");
  if (down_block_types.size() != block_out_channels.size())
    fail("\"down_block_types\" has " + std::to_string(down_block_types.size()) +
         " entries but \"block_out_channels\" has " + std::to_string(block_out_channels.size()));
  if (up_block_types.size() != block_out_channels.size())
    fail("\"up_block_types\" has " + std::to_string(up_block_types.size()) +
         " entries but \"block_out_channels\" has " + std::to_string(block_out_channels.size()));
  for (const auto& t : down_block_types)
    if (t != "DownEncoderBlock2D") fail("unsupported down block type \"" + t + "\" (expected DownEncoderBlock2D)");
  for (const auto& t : up_block_types)
    if (t != "UpDecoderBlock2D") fail("unsupported up block type \"" + t + "\" (expected UpDecoderBlock2D)");
  activation_from_name(act_fn, source + ": \"act_fn\"");  // throws for names diffusers does not know
  if (in_channels <= 0 || out_channels <= 0 || latent_channels <= 0)
    fail("\"in_channels\", \"out_channels\" and \"latent_channels\" must be positive");
  if (layers_per_block <= 0) fail("\"layers_per_block\" must be positive");
  if (norm_num_groups <= 0) fail("\"norm_num_groups\" must be positive");
  for (int64_t c : block_out_channels) {
    if (c <= 0 || c % norm_num_groups != 0)
      fail("block width " + std::to_string(c) +
           " in \"block_out_channels\" is not a positive multiple of "
           "\"norm_num_groups\" (" +
           std::to_string(norm_num_groups) + ")");
  }
  if (!(scaling_factor > 0.0)) fail("\"scaling_factor\" must be positive");
  if (sample_size <= 0) fail("\"sample_size\" must be positive");
  for (const auto* stats : {&latents_mean, &latents_std})
    if (*stats && static_cast<int64_t>((*stats)->size()) != latent_channels)
      fail("\"latents_mean\"/\"latents_std\" must have one entry per latent channel (" +
           std::to_string(latent_channels) + ")");
}

VaeConfig vae_config_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object (an AutoencoderKL config.json)");
  if (auto it = j.find("_class_name"); it != j.end() && it->is_string() && it->get<std::string>() != "AutoencoderKL")
    throw Error(source + ": \"_class_name\" is \"" + it->get<std::string>() +
                "\", but the VAE must be an AutoencoderKL (the Stable Diffusion VAE)");
  VaeConfig c;
  const ConfigReader r(j, source, kFix);
  r.read("in_channels", c.in_channels);
  r.read("out_channels", c.out_channels);
  r.read("down_block_types", c.down_block_types);
  r.read("up_block_types", c.up_block_types);
  r.read("block_out_channels", c.block_out_channels);
  r.read("layers_per_block", c.layers_per_block);
  r.read("act_fn", c.act_fn);
  r.read("latent_channels", c.latent_channels);
  r.read("norm_num_groups", c.norm_num_groups);
  if (auto it = j.find("sample_size"); it != j.end() && it->is_array()) {
    // diffusers accepts [h, w] and uses the first entry (tiling size only).
    if (it->empty() || !(*it)[0].is_number_integer()) r.fail("sample_size", "must be an integer or [h, w]");
    c.sample_size = (*it)[0].get<int64_t>();
  } else {
    r.read("sample_size", c.sample_size);
  }
  r.read("scaling_factor", c.scaling_factor);
  r.read("force_upcast", c.force_upcast);
  r.read("latents_mean", c.latents_mean);
  r.read("latents_std", c.latents_std);
  r.read("mid_block_add_attention", c.mid_block_add_attention);
  if (auto it = j.find("shift_factor"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) r.fail("shift_factor", "must be null or a number, got " + it->dump());
    c.shift_factor = it->get<double>();
  }
  c.validate(source);
  return c;
}

VaeConfig load_vae_config(const std::string& path) {
  return vae_config_from_json(
      read_json_file(path, "VAE config", "The model folder needs vae/config.json (an AutoencoderKL config)."), path);
}

}  // namespace gligen::nets
