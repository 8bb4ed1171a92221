#include "core/nets/vae_config.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/nets/activation.h"
#include "core/util/error.h"

namespace gligen::nets {
namespace {

using nlohmann::json;

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(source + ": key \"" + key + "\" " + what +
              ". Fix the file or use the vae/config.json that came with the model.");
}

// Each reader leaves `out` untouched when the key is absent or null (the class default applies).
void read_int(const json& j, const char* key, int64_t& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number_integer()) bad_key(source, key, "must be an integer, got " + it->dump());
  out = it->get<int64_t>();
}

void read_number(const json& j, const char* key, double& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number()) bad_key(source, key, "must be a number, got " + it->dump());
  out = it->get<double>();
}

void read_bool(const json& j, const char* key, bool& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_boolean()) bad_key(source, key, "must be true or false, got " + it->dump());
  out = it->get<bool>();
}

void read_string(const json& j, const char* key, std::string& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_string()) bad_key(source, key, "must be a string, got " + it->dump());
  out = it->get<std::string>();
}

void read_strings(const json& j, const char* key, std::vector<std::string>& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_array()) bad_key(source, key, "must be a list of block type names, got " + it->dump());
  std::vector<std::string> v;
  for (const auto& e : *it) {
    if (!e.is_string()) bad_key(source, key, "must be a list of block type names, got " + it->dump());
    v.push_back(e.get<std::string>());
  }
  out = std::move(v);
}

void read_ints(const json& j, const char* key, std::vector<int64_t>& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_array()) bad_key(source, key, "must be a list of integers, got " + it->dump());
  std::vector<int64_t> v;
  for (const auto& e : *it) {
    if (!e.is_number_integer()) bad_key(source, key, "must be a list of integers, got " + it->dump());
    v.push_back(e.get<int64_t>());
  }
  out = std::move(v);
}

void read_numbers(const json& j, const char* key, std::optional<std::vector<double>>& out,
                  const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_array()) bad_key(source, key, "must be null or a list of numbers, got " + it->dump());
  std::vector<double> v;
  for (const auto& e : *it) {
    if (!e.is_number()) bad_key(source, key, "must be null or a list of numbers, got " + it->dump());
    v.push_back(e.get<double>());
  }
  out = std::move(v);
}

}  // namespace

void VaeConfig::validate(const std::string& source) const {
  auto fail = [&](const std::string& what) {
    throw Error(source + ": " + what + ". This engine implements the Stable Diffusion AutoencoderKL "
                "(DownEncoderBlock2D / UpDecoderBlock2D blocks); use that model's vae/config.json.");
  };
  if (block_out_channels.empty()) fail("\"block_out_channels\" is empty");
  if (block_out_channels.size() > 8) fail("\"block_out_channels\" has more than 8 entries");
  if (down_block_types.size() != block_out_channels.size())
    fail("\"down_block_types\" has " + std::to_string(down_block_types.size()) + " entries but \"block_out_channels\" has " +
         std::to_string(block_out_channels.size()));
  if (up_block_types.size() != block_out_channels.size())
    fail("\"up_block_types\" has " + std::to_string(up_block_types.size()) + " entries but \"block_out_channels\" has " +
         std::to_string(block_out_channels.size()));
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
      fail("block width " + std::to_string(c) + " in \"block_out_channels\" is not a positive multiple of "
           "\"norm_num_groups\" (" + std::to_string(norm_num_groups) + ")");
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
  read_int(j, "in_channels", c.in_channels, source);
  read_int(j, "out_channels", c.out_channels, source);
  read_strings(j, "down_block_types", c.down_block_types, source);
  read_strings(j, "up_block_types", c.up_block_types, source);
  read_ints(j, "block_out_channels", c.block_out_channels, source);
  read_int(j, "layers_per_block", c.layers_per_block, source);
  read_string(j, "act_fn", c.act_fn, source);
  read_int(j, "latent_channels", c.latent_channels, source);
  read_int(j, "norm_num_groups", c.norm_num_groups, source);
  if (auto it = j.find("sample_size"); it != j.end() && it->is_array()) {
    // diffusers accepts [h, w] and uses the first entry (tiling size only).
    if (it->empty() || !(*it)[0].is_number_integer()) bad_key(source, "sample_size", "must be an integer or [h, w]");
    c.sample_size = (*it)[0].get<int64_t>();
  } else {
    read_int(j, "sample_size", c.sample_size, source);
  }
  read_number(j, "scaling_factor", c.scaling_factor, source);
  read_bool(j, "force_upcast", c.force_upcast, source);
  read_numbers(j, "latents_mean", c.latents_mean, source);
  read_numbers(j, "latents_std", c.latents_std, source);
  read_bool(j, "mid_block_add_attention", c.mid_block_add_attention, source);
  if (auto it = j.find("shift_factor"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) bad_key(source, "shift_factor", "must be null or a number, got " + it->dump());
    c.shift_factor = it->get<double>();
  }
  c.validate(source);
  return c;
}

VaeConfig load_vae_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open the VAE config " + path + ": the model folder needs vae/config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + " is not valid JSON (" + e.what() + ")");
  }
  return vae_config_from_json(j, path);
}

}  // namespace gligen::nets
