#include "core/nets/unet_config.h"

#include <nlohmann/json.hpp>

#include "core/nets/activation.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace {

using nlohmann::json;

const char* const kSupportHint =
    "This engine implements the Stable Diffusion 1.x UNet family (CrossAttnDownBlock2D, DownBlock2D, "
    "UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D, UpBlock2D) with optional GLIGEN gated attention";

const char* const kFix = "Fix the file or use the unet/config.json that came with the model.";

[[noreturn]] void unsupported(const std::string& source, const std::string& key, const json& value,
                              const std::string& why = "") {
  throw Error(source + ": \"" + key + "\" = " + value.dump() + " is not supported" +
              (why.empty() ? "" : " (" + why + ")") + ". " + kSupportHint + ".");
}

// A key that is one integer for every block or a list with one per block. Returns the list as
// read (one entry = broadcast later), or `fallback` when absent.
std::vector<int64_t> read_per_block_ints(const ConfigReader& config, const char* key, int64_t fallback,
                                         bool* was_list = nullptr) {
  const ConfigReader& r = config;
  const std::string& source = r.source();
  if (was_list) *was_list = false;
  const json* v = r.find(key);
  if (!v) return {fallback};
  if (v->is_number_integer()) return {v->get<int64_t>()};
  if (!v->is_array()) r.fail(key, "must be an integer or a list of integers, got " + v->dump());
  std::vector<int64_t> values;
  for (const auto& e : *v) {
    if (e.is_array()) unsupported(source, key, *v, "per-layer lists belong to asymmetric SDXL-style UNets");
    if (!e.is_number_integer()) r.fail(key, "must be an integer or a list of integers, got " + v->dump());
    values.push_back(e.get<int64_t>());
  }
  if (was_list) *was_list = true;
  return values;
}

// Keys whose only supported value is null (or absent): they add embeddings SD 1.x does not have.
void require_null(const ConfigReader& r, const char* key) {
  if (const json* v = r.find(key)) unsupported(r.source(), key, *v, "it must be null for an SD 1.x UNet");
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
    fail("\"down_block_types\" has " + std::to_string(down_block_types.size()) +
         " entries but \"block_out_channels\" has " + std::to_string(n));
  if (up_block_types.size() != n)
    fail("\"up_block_types\" has " + std::to_string(up_block_types.size()) +
         " entries but \"block_out_channels\" has " + std::to_string(n));
  for (const auto& t : down_block_types)
    if (t != "CrossAttnDownBlock2D" && t != "DownBlock2D")
      unsupported(source, "down_block_types", t, "unknown down block type");
  for (const auto& t : up_block_types)
    if (t != "CrossAttnUpBlock2D" && t != "UpBlock2D")
      unsupported(source, "up_block_types", t, "unknown up block type");
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
      fail("block width " + std::to_string(c) +
           " in \"block_out_channels\" is not a positive multiple of "
           "\"norm_num_groups\" (" +
           std::to_string(norm_num_groups) + ")");
  for (size_t i = 0; i < n; ++i) {
    if (layers_per_block[i] <= 0) fail("\"layers_per_block\" entries must be positive");
    if (transformer_layers_per_block[i] <= 0) fail("\"transformer_layers_per_block\" entries must be positive");
    if (cross_attention_dim[i] <= 0) fail("\"cross_attention_dim\" entries must be positive");
    const int64_t heads = num_attention_heads[i];
    if (heads <= 0 || block_out_channels[i] / heads <= 0)
      fail("block " + std::to_string(i) + " has " + std::to_string(heads) + " attention heads for " +
           std::to_string(block_out_channels[i]) +
           " channels (\"attention_head_dim\" is the head count in SD 1.x configs)");
  }
  if (time_embed_dim() <= 0) fail("\"time_embedding_dim\" must be positive");
}

UNetConfig unet_config_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object (a UNet2DConditionModel config.json)");
  if (auto it = j.find("_class_name");
      it != j.end() && it->is_string() && it->get<std::string>() != "UNet2DConditionModel")
    throw Error(source + ": \"_class_name\" is \"" + it->get<std::string>() +
                "\", but the UNet must be a UNet2DConditionModel (Stable Diffusion / GLIGEN)");
  UNetConfig c;
  const ConfigReader r(j, source, kFix);
  if (const json* v = r.find("sample_size")) {
    if (v->is_number_integer()) {
      c.sample_size = {v->get<int64_t>()};
    } else {
      r.read("sample_size", c.sample_size);
      if (c.sample_size.empty() || c.sample_size.size() > 2) r.fail("sample_size", "must be an integer or [h, w]");
    }
  }
  r.read("in_channels", c.in_channels);
  r.read("out_channels", c.out_channels);
  r.read("center_input_sample", c.center_input_sample);
  r.read("flip_sin_to_cos", c.flip_sin_to_cos);
  r.read("freq_shift", c.freq_shift);
  r.read("down_block_types", c.down_block_types);
  r.read("up_block_types", c.up_block_types);
  if (auto it = j.find("mid_block_type"); it != j.end()) {
    if (it->is_null())
      c.mid_block_type.clear();
    else
      r.read("mid_block_type", c.mid_block_type);
  }
  r.read("block_out_channels", c.block_out_channels);
  r.read("downsample_padding", c.downsample_padding);
  r.read("mid_block_scale_factor", c.mid_block_scale_factor);
  r.read("dropout", c.dropout);
  r.read("act_fn", c.act_fn);
  if (auto it = j.find("norm_num_groups"); it != j.end() && it->is_null())
    unsupported(source, "norm_num_groups", *it, "a UNet without output normalisation");
  r.read("norm_num_groups", c.norm_num_groups);
  r.read("norm_eps", c.norm_eps);
  r.read("use_linear_projection", c.use_linear_projection);
  r.read("upcast_attention", c.upcast_attention);
  r.read("resnet_time_scale_shift", c.resnet_time_scale_shift);
  r.read("time_embedding_type", c.time_embedding_type);
  r.read("time_embedding_dim", c.time_embedding_dim);
  r.read("conv_in_kernel", c.conv_in_kernel);
  r.read("conv_out_kernel", c.conv_out_kernel);
  r.read("attention_type", c.attention_type);

  bool dual = false, concat = false;
  r.read("dual_cross_attention", dual);
  if (dual) unsupported(source, "dual_cross_attention", true);
  r.read("class_embeddings_concat", concat);
  if (concat) unsupported(source, "class_embeddings_concat", true);
  for (const char* key :
       {"class_embed_type", "num_class_embeds", "addition_embed_type", "encoder_hid_dim", "encoder_hid_dim_type",
        "time_cond_proj_dim", "timestep_post_act", "time_embedding_act_fn", "reverse_transformer_layers_per_block"})
    require_null(r, key);
  // diffusers v0.27.2 raises for num_attention_heads (its naming issue #2011): only
  // attention_head_dim (the head count, despite its name) is accepted.
  if (const json* v = r.find("num_attention_heads"))
    unsupported(source, "num_attention_heads", *v,
                "diffusers v0.27.2 refuses it too; SD 1.x configs give the head count as \"attention_head_dim\"");
  // Keys only the blocks this engine does not build read (resnet_skip_time_act,
  // resnet_out_scale_factor, cross_attention_norm, addition_*, projection_class_embeddings_input_dim)
  // are ignored, as they are for these blocks in diffusers; so are unknown keys.

  const size_t n = c.block_out_channels.size();
  bool list = false;
  c.layers_per_block =
      broadcast(read_per_block_ints(r, "layers_per_block", 2, &list), n, source, "layers_per_block", list);
  c.cross_attention_dim =
      broadcast(read_per_block_ints(r, "cross_attention_dim", 1280, &list), n, source, "cross_attention_dim", list);
  c.transformer_layers_per_block = broadcast(read_per_block_ints(r, "transformer_layers_per_block", 1, &list), n,
                                             source, "transformer_layers_per_block", list);
  c.num_attention_heads =
      broadcast(read_per_block_ints(r, "attention_head_dim", 8, &list), n, source, "attention_head_dim", list);

  std::vector<bool> only_cross{false};
  bool only_cross_list = false;
  if (const json* v = r.find("only_cross_attention")) {
    if (v->is_boolean()) {
      only_cross = {v->get<bool>()};
    } else if (v->is_array()) {
      only_cross.clear();
      for (const auto& e : *v) {
        if (!e.is_boolean()) r.fail("only_cross_attention", "must be true/false or a list of them");
        only_cross.push_back(e.get<bool>());
      }
      only_cross_list = true;
    } else {
      r.fail("only_cross_attention", "must be true/false or a list of them, got " + v->dump());
    }
  }
  c.mid_block_only_cross_attention = only_cross_list ? false : only_cross[0];
  r.read("mid_block_only_cross_attention", c.mid_block_only_cross_attention);
  c.only_cross_attention = broadcast(only_cross, n, source, "only_cross_attention", only_cross_list);

  c.validate(source);
  return c;
}

UNetConfig load_unet_config(const std::string& path) {
  return unet_config_from_json(read_json_file(path, "UNet config", "A UNet folder needs config.json."), path);
}

}  // namespace gligen::nets
