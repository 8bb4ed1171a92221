#include "core/nets/unet_config.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "core/nets/activation.h"
#include "core/util/error.h"

namespace gligen::nets {
namespace {

using nlohmann::json;

const char* const kSupportHint =
    "This engine implements the Stable Diffusion 1.x UNet family (CrossAttnDownBlock2D, DownBlock2D, "
    "UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D, UpBlock2D) with optional GLIGEN gated attention";

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(source + ": key \"" + key + "\" " + what + ". Fix the file or use the unet/config.json that came with the model.");
}

[[noreturn]] void unsupported(const std::string& source, const std::string& key, const json& value,
                              const std::string& why = "") {
  throw Error(source + ": \"" + key + "\" = " + value.dump() + " is not supported" + (why.empty() ? "" : " (" + why + ")") +
              ". " + kSupportHint + ".");
}

// nullptr when the key is absent or null: the class default applies.
const json* find(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

void read_int(const json& j, const char* key, int64_t& out, const std::string& source) {
  if (const json* v = find(j, key)) {
    if (!v->is_number_integer()) bad_key(source, key, "must be an integer, got " + v->dump());
    out = v->get<int64_t>();
  }
}

void read_number(const json& j, const char* key, double& out, const std::string& source) {
  if (const json* v = find(j, key)) {
    if (!v->is_number()) bad_key(source, key, "must be a number, got " + v->dump());
    out = v->get<double>();
  }
}

void read_bool(const json& j, const char* key, bool& out, const std::string& source) {
  if (const json* v = find(j, key)) {
    if (!v->is_boolean()) bad_key(source, key, "must be true or false, got " + v->dump());
    out = v->get<bool>();
  }
}

void read_string(const json& j, const char* key, std::string& out, const std::string& source) {
  if (const json* v = find(j, key)) {
    if (!v->is_string()) bad_key(source, key, "must be a string, got " + v->dump());
    out = v->get<std::string>();
  }
}

void read_strings(const json& j, const char* key, std::vector<std::string>& out, const std::string& source) {
  if (const json* v = find(j, key)) {
    if (!v->is_array()) bad_key(source, key, "must be a list of block type names, got " + v->dump());
    std::vector<std::string> r;
    for (const auto& e : *v) {
      if (!e.is_string()) bad_key(source, key, "must be a list of block type names, got " + v->dump());
      r.push_back(e.get<std::string>());
    }
    out = std::move(r);
  }
}

void read_ints(const json& j, const char* key, std::vector<int64_t>& out, const std::string& source) {
  if (const json* v = find(j, key)) {
    if (!v->is_array()) bad_key(source, key, "must be a list of integers, got " + v->dump());
    std::vector<int64_t> r;
    for (const auto& e : *v) {
      if (!e.is_number_integer()) bad_key(source, key, "must be a list of integers, got " + v->dump());
      r.push_back(e.get<int64_t>());
    }
    out = std::move(r);
  }
}

// A key that is one integer for every block or a list with one per block. Returns the list as
// read (one entry = broadcast later), or `fallback` when absent.
std::vector<int64_t> read_per_block_ints(const json& j, const char* key, int64_t fallback, const std::string& source,
                                         bool* was_list = nullptr) {
  if (was_list) *was_list = false;
  const json* v = find(j, key);
  if (!v) return {fallback};
  if (v->is_number_integer()) return {v->get<int64_t>()};
  if (!v->is_array()) bad_key(source, key, "must be an integer or a list of integers, got " + v->dump());
  std::vector<int64_t> r;
  for (const auto& e : *v) {
    if (e.is_array()) unsupported(source, key, *v, "per-layer lists belong to asymmetric SDXL-style UNets");
    if (!e.is_number_integer()) bad_key(source, key, "must be an integer or a list of integers, got " + v->dump());
    r.push_back(e.get<int64_t>());
  }
  if (was_list) *was_list = true;
  return r;
}

// Keys whose only supported value is null (or absent): they add embeddings SD 1.x does not have.
void require_null(const json& j, const char* key, const std::string& source) {
  if (const json* v = find(j, key)) unsupported(source, key, *v, "it must be null for an SD 1.x UNet");
}

template <typename T>
std::vector<T> broadcast(std::vector<T> v, size_t n, const std::string& source, const char* key, bool was_list) {
  if (!was_list && v.size() == 1) return std::vector<T>(n, v[0]);
  if (v.size() != n)
    throw Error(source + ": \"" + key + "\" has " + std::to_string(v.size()) + " entries but there are " +
                std::to_string(n) + " down blocks");
  return v;
}

}  // namespace

void UNetConfig::validate(const std::string& source) const {
  auto fail = [&](const std::string& what) { throw Error(source + ": " + what + ". " + kSupportHint + "."); };
  const size_t n = block_out_channels.size();
  if (n == 0) fail("\"block_out_channels\" is empty");
  if (down_block_types.size() != n)
    fail("\"down_block_types\" has " + std::to_string(down_block_types.size()) + " entries but \"block_out_channels\" has " +
         std::to_string(n));
  if (up_block_types.size() != n)
    fail("\"up_block_types\" has " + std::to_string(up_block_types.size()) + " entries but \"block_out_channels\" has " +
         std::to_string(n));
  for (const auto& t : down_block_types)
    if (t != "CrossAttnDownBlock2D" && t != "DownBlock2D") unsupported(source, "down_block_types", t, "unknown down block type");
  for (const auto& t : up_block_types)
    if (t != "CrossAttnUpBlock2D" && t != "UpBlock2D") unsupported(source, "up_block_types", t, "unknown up block type");
  if (!mid_block_type.empty() && mid_block_type != "UNetMidBlock2DCrossAttn")
    unsupported(source, "mid_block_type", mid_block_type);
  for (const auto* v : {&layers_per_block, &cross_attention_dim, &transformer_layers_per_block, &num_attention_heads})
    if (v->size() != n) fail("a per-block list does not have one entry per down block");
  if (only_cross_attention.size() != n) fail("\"only_cross_attention\" must have one entry per down block");
  activation_from_name(act_fn, source + ": \"act_fn\"");
  if (attention_type == "gated-text-image")
    unsupported(source, "attention_type", attention_type,
                "the text-image GLIGEN variant is not implemented yet; use a text-box (\"gated\") GLIGEN model");
  if (attention_type != "default" && attention_type != "gated") unsupported(source, "attention_type", attention_type);
  if (resnet_time_scale_shift != "default" && resnet_time_scale_shift != "scale_shift")
    unsupported(source, "resnet_time_scale_shift", resnet_time_scale_shift);
  if (time_embedding_type != "positional") unsupported(source, "time_embedding_type", time_embedding_type);
  if (dropout != 0.0) unsupported(source, "dropout", dropout, "dropout layers are not implemented");
  if (in_channels <= 0 || out_channels <= 0) fail("\"in_channels\" and \"out_channels\" must be positive");
  if (norm_num_groups <= 0) fail("\"norm_num_groups\" must be positive");
  for (int64_t k : {conv_in_kernel, conv_out_kernel})
    if (k <= 0 || k % 2 == 0) fail("\"conv_in_kernel\" / \"conv_out_kernel\" must be positive odd numbers");
  for (int64_t c : block_out_channels)
    if (c <= 0 || c % norm_num_groups != 0)
      fail("block width " + std::to_string(c) + " in \"block_out_channels\" is not a positive multiple of "
           "\"norm_num_groups\" (" + std::to_string(norm_num_groups) + ")");
  for (size_t i = 0; i < n; ++i) {
    if (layers_per_block[i] <= 0) fail("\"layers_per_block\" entries must be positive");
    if (transformer_layers_per_block[i] <= 0) fail("\"transformer_layers_per_block\" entries must be positive");
    if (cross_attention_dim[i] <= 0) fail("\"cross_attention_dim\" entries must be positive");
    const int64_t heads = num_attention_heads[i];
    if (heads <= 0 || block_out_channels[i] / heads <= 0)
      fail("block " + std::to_string(i) + " has " + std::to_string(heads) + " attention heads for " +
           std::to_string(block_out_channels[i]) + " channels (\"attention_head_dim\" is the head count in SD 1.x configs)");
  }
  if (time_embed_dim() <= 0) fail("\"time_embedding_dim\" must be positive");
}

UNetConfig unet_config_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object (a UNet2DConditionModel config.json)");
  if (auto it = j.find("_class_name"); it != j.end() && it->is_string() && it->get<std::string>() != "UNet2DConditionModel")
    throw Error(source + ": \"_class_name\" is \"" + it->get<std::string>() +
                "\", but the UNet must be a UNet2DConditionModel (Stable Diffusion / GLIGEN)");
  UNetConfig c;
  if (const json* v = find(j, "sample_size")) {
    if (v->is_number_integer()) {
      c.sample_size = {v->get<int64_t>()};
    } else {
      read_ints(j, "sample_size", c.sample_size, source);
      if (c.sample_size.empty() || c.sample_size.size() > 2) bad_key(source, "sample_size", "must be an integer or [h, w]");
    }
  }
  read_int(j, "in_channels", c.in_channels, source);
  read_int(j, "out_channels", c.out_channels, source);
  read_bool(j, "center_input_sample", c.center_input_sample, source);
  read_bool(j, "flip_sin_to_cos", c.flip_sin_to_cos, source);
  read_number(j, "freq_shift", c.freq_shift, source);
  read_strings(j, "down_block_types", c.down_block_types, source);
  read_strings(j, "up_block_types", c.up_block_types, source);
  if (auto it = j.find("mid_block_type"); it != j.end()) {
    if (it->is_null()) c.mid_block_type.clear();
    else read_string(j, "mid_block_type", c.mid_block_type, source);
  }
  read_ints(j, "block_out_channels", c.block_out_channels, source);
  read_int(j, "downsample_padding", c.downsample_padding, source);
  read_number(j, "mid_block_scale_factor", c.mid_block_scale_factor, source);
  read_number(j, "dropout", c.dropout, source);
  read_string(j, "act_fn", c.act_fn, source);
  if (auto it = j.find("norm_num_groups"); it != j.end() && it->is_null())
    unsupported(source, "norm_num_groups", *it, "a UNet without output normalisation");
  read_int(j, "norm_num_groups", c.norm_num_groups, source);
  read_number(j, "norm_eps", c.norm_eps, source);
  read_bool(j, "use_linear_projection", c.use_linear_projection, source);
  read_bool(j, "upcast_attention", c.upcast_attention, source);
  read_string(j, "resnet_time_scale_shift", c.resnet_time_scale_shift, source);
  read_string(j, "time_embedding_type", c.time_embedding_type, source);
  read_int(j, "time_embedding_dim", c.time_embedding_dim, source);
  read_int(j, "conv_in_kernel", c.conv_in_kernel, source);
  read_int(j, "conv_out_kernel", c.conv_out_kernel, source);
  read_string(j, "attention_type", c.attention_type, source);

  bool dual = false, concat = false;
  read_bool(j, "dual_cross_attention", dual, source);
  if (dual) unsupported(source, "dual_cross_attention", true);
  read_bool(j, "class_embeddings_concat", concat, source);
  if (concat) unsupported(source, "class_embeddings_concat", true);
  for (const char* key : {"class_embed_type", "num_class_embeds", "addition_embed_type", "encoder_hid_dim",
                          "encoder_hid_dim_type", "time_cond_proj_dim", "timestep_post_act", "time_embedding_act_fn",
                          "reverse_transformer_layers_per_block"})
    require_null(j, key, source);
  // diffusers v0.27.2 raises for num_attention_heads (its naming issue #2011): only
  // attention_head_dim (the head count, despite its name) is accepted.
  if (const json* v = find(j, "num_attention_heads"))
    unsupported(source, "num_attention_heads", *v,
                "diffusers v0.27.2 refuses it too; SD 1.x configs give the head count as \"attention_head_dim\"");
  // Keys only the blocks this engine does not build read (resnet_skip_time_act,
  // resnet_out_scale_factor, cross_attention_norm, addition_*, projection_class_embeddings_input_dim)
  // are ignored, as they are for these blocks in diffusers; so are unknown keys.

  const size_t n = c.block_out_channels.size();
  bool list = false;
  c.layers_per_block = broadcast(read_per_block_ints(j, "layers_per_block", 2, source, &list), n, source,
                                 "layers_per_block", list);
  c.cross_attention_dim = broadcast(read_per_block_ints(j, "cross_attention_dim", 1280, source, &list), n, source,
                                    "cross_attention_dim", list);
  c.transformer_layers_per_block = broadcast(read_per_block_ints(j, "transformer_layers_per_block", 1, source, &list),
                                             n, source, "transformer_layers_per_block", list);
  c.num_attention_heads = broadcast(read_per_block_ints(j, "attention_head_dim", 8, source, &list), n, source,
                                    "attention_head_dim", list);

  std::vector<bool> only_cross{false};
  bool only_cross_list = false;
  if (const json* v = find(j, "only_cross_attention")) {
    if (v->is_boolean()) {
      only_cross = {v->get<bool>()};
    } else if (v->is_array()) {
      only_cross.clear();
      for (const auto& e : *v) {
        if (!e.is_boolean()) bad_key(source, "only_cross_attention", "must be true/false or a list of them");
        only_cross.push_back(e.get<bool>());
      }
      only_cross_list = true;
    } else {
      bad_key(source, "only_cross_attention", "must be true/false or a list of them, got " + v->dump());
    }
  }
  c.mid_block_only_cross_attention = only_cross_list ? false : only_cross[0];
  read_bool(j, "mid_block_only_cross_attention", c.mid_block_only_cross_attention, source);
  c.only_cross_attention = broadcast(only_cross, n, source, "only_cross_attention", only_cross_list);

  c.validate(source);
  return c;
}

UNetConfig load_unet_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open the UNet config " + path + ": a UNet folder needs config.json");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path + " is not valid JSON (" + e.what() + ")");
  }
  return unet_config_from_json(j, path);
}

}  // namespace gligen::nets
