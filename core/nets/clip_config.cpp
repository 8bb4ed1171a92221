#include "core/nets/clip_config.h"

#include <nlohmann/json.hpp>

#include "core/nets/hf_activation.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace {

using nlohmann::json;

const char* const kFix = "Fix the file or use the text_encoder/config.json that came with the model.";

}  // namespace

void CLIPTextConfig::validate(const std::string& source) const {
  auto bad_key = [&](const std::string& key, const std::string& what) { config_key_error(source, key, what, kFix); };
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) bad_key(key, "must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (hidden_size % num_attention_heads != 0) {
    bad_key("hidden_size", "(" + std::to_string(hidden_size) + ") must be divisible by num_attention_heads (" +
                               std::to_string(num_attention_heads) + ")");
  }
  if (!(layer_norm_eps > 0.0)) bad_key("layer_norm_eps", "must be positive");
  hf_activation_from_name(hidden_act, source + ": \"hidden_act\"");  // throws for names it does not implement
}

CLIPTextConfig clip_text_config_from_json(const json& j_in, const std::string& source) {
  if (!j_in.is_object()) throw Error(source + ": expected a JSON object, got " + j_in.dump().substr(0, 80));
  const json* j = &j_in;
  // A full CLIPModel config holds the text tower's settings under "text_config".
  if (j_in.value("model_type", std::string()) == "clip" && j_in.contains("text_config") &&
      j_in["text_config"].is_object()) {
    j = &j_in["text_config"];
  }
  CLIPTextConfig c;
  const ConfigReader r(*j, source, kFix);
  r.read("vocab_size", c.vocab_size);
  r.read("hidden_size", c.hidden_size);
  r.read("intermediate_size", c.intermediate_size);
  r.read("projection_dim", c.projection_dim);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("max_position_embeddings", c.max_position_embeddings);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("attention_dropout", c.attention_dropout);
  r.read("pad_token_id", c.pad_token_id);
  r.read("bos_token_id", c.bos_token_id);
  r.read("eos_token_id", c.eos_token_id);
  c.validate(source);
  return c;
}

CLIPTextConfig load_clip_text_config(const std::string& path) {
  return clip_text_config_from_json(
      read_json_file(path, "text encoder config", "A diffusers pipeline keeps it in text_encoder/config.json."), path);
}

}  // namespace gligen::nets
