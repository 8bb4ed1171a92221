#include "core/nets/swin_config.h"

#include <algorithm>

#include "core/nets/hf_activation.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace {

// An int or a [height, width] pair (transformers accepts any iterable of two).
void read_pair(const ConfigReader& r, const char* key, int64_t& height, int64_t& width) {
  const auto* v = r.find(key);
  if (!v) return;
  if (v->is_number_integer()) {
    height = width = v->get<int64_t>();
    return;
  }
  if (v->is_array() && v->size() == 2 && (*v)[0].is_number_integer() && (*v)[1].is_number_integer()) {
    height = (*v)[0].get<int64_t>();
    width = (*v)[1].get<int64_t>();
    return;
  }
  r.fail(key, "must be an integer or a [height, width] pair of integers, got " + v->dump());
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

}  // namespace

int64_t SwinConfig::stage_channels(int64_t stage_index) const {
  return stage_index <= 0 ? embed_dim : embed_dim * (int64_t(1) << (stage_index - 1));
}

std::vector<std::string> SwinConfig::stage_names() const {
  std::vector<std::string> names{"stem"};
  for (int64_t i = 1; i <= num_stages(); ++i) names.push_back("stage" + std::to_string(i));
  return names;
}

void SwinConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& key, const std::string& what) {
    throw Error(source + ": key \"" + key + "\" " + what + ". Use the config.json that came with the model.");
  };
  if (image_height <= 0 || image_width <= 0) bad("image_size", "must be positive");
  if (patch_height <= 0 || patch_width <= 0) bad("patch_size", "must be positive");
  if (num_channels <= 0) bad("num_channels", "must be positive");
  if (embed_dim <= 0) bad("embed_dim", "must be positive");
  if (window_size <= 0) bad("window_size", "must be positive");
  if (!(mlp_ratio > 0.0)) bad("mlp_ratio", "must be positive");
  if (!(layer_norm_eps > 0.0)) bad("layer_norm_eps", "must be positive");
  if (depths.empty()) bad("depths", "must list at least one stage");
  if (num_heads.size() != depths.size()) {
    bad("num_heads", "must have one entry per stage (" + std::to_string(depths.size()) + "), got " +
                         std::to_string(num_heads.size()));
  }
  for (size_t i = 0; i < depths.size(); ++i) {
    if (depths[i] <= 0) bad("depths", "must be positive");
    if (num_heads[i] <= 0) bad("num_heads", "must be positive");
    const int64_t dim = stage_channels(static_cast<int64_t>(i) + 1);
    if (dim % num_heads[i] != 0) {
      bad("num_heads", "entry " + std::to_string(i) + " (" + std::to_string(num_heads[i]) +
                           ") must divide the stage's width " + std::to_string(dim));
    }
  }
  if (use_absolute_embeddings) {
    bad("use_absolute_embeddings",
        "is true, which this engine does not implement (transformers adds a fixed-size "
        "table that only fits image_size inputs)");
  }
  hf_activation_from_name(hidden_act, source + ": key \"hidden_act\"");
  const auto names = stage_names();
  if (out_features.size() != out_indices.size()) bad("out_features", "and out_indices must have the same length");
  for (size_t i = 0; i < out_features.size(); ++i) {
    if (out_indices[i] < 0 || out_indices[i] >= static_cast<int64_t>(names.size()) ||
        names[out_indices[i]] != out_features[i]) {
      bad("out_features",
          "(" + join(out_features) + ") must name stages among " + join(names) + " and agree with out_indices");
    }
    if (i > 0 && out_indices[i] <= out_indices[i - 1]) bad("out_indices", "must be increasing");
  }
}

SwinConfig swin_config_from(const ConfigReader& r) {
  SwinConfig c;
  read_pair(r, "image_size", c.image_height, c.image_width);
  read_pair(r, "patch_size", c.patch_height, c.patch_width);
  r.read("num_channels", c.num_channels);
  r.read("embed_dim", c.embed_dim);
  r.read("depths", c.depths);
  r.read("num_heads", c.num_heads);
  r.read("window_size", c.window_size);
  r.read("mlp_ratio", c.mlp_ratio);
  r.read("qkv_bias", c.qkv_bias);
  r.read("hidden_dropout_prob", c.hidden_dropout_prob);
  r.read("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  r.read("drop_path_rate", c.drop_path_rate);
  r.read("hidden_act", c.hidden_act);
  r.read("use_absolute_embeddings", c.use_absolute_embeddings);
  r.read("layer_norm_eps", c.layer_norm_eps);

  // transformers' get_aligned_output_features_output_indices.
  const auto names = c.stage_names();
  const int64_t n = static_cast<int64_t>(names.size());
  std::vector<std::string> features;
  std::vector<int64_t> indices;
  const bool has_features = r.has("out_features"), has_indices = r.has("out_indices");
  r.read("out_features", features);
  r.read("out_indices", indices);
  for (auto& i : indices) {
    if (i < -n || i >= n)
      r.fail("out_indices", "has " + std::to_string(i) + ", outside the " + std::to_string(n) + " stages");
    if (i < 0) i += n;  // Python indexing
  }
  if (!has_features && !has_indices) {
    features = {names.back()};
    indices = {n - 1};
  } else if (!has_features) {
    for (auto i : indices) features.push_back(names[i]);
  } else if (!has_indices) {
    for (const auto& f : features) {
      auto it = std::find(names.begin(), names.end(), f);
      if (it == names.end()) r.fail("out_features", "names \"" + f + "\", which is not one of " + join(names));
      indices.push_back(it - names.begin());
    }
  }
  c.out_features = features;
  c.out_indices = indices;
  c.validate(r.source());
  return c;
}

}  // namespace gligen::nets
