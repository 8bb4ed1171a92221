#include "core/nets/clip_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace gligen {
namespace {

using nlohmann::json;

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(source + ": key \"" + key + "\" " + what +
              ". Fix the file or use the text_encoder/config.json that came with the model.");
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

void read_string(const json& j, const char* key, std::string& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_string()) bad_key(source, key, "must be a string, got " + it->dump());
  out = it->get<std::string>();
}

}  // namespace

void CLIPTextConfig::validate(const std::string& source) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) bad_key(source, key, "must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (hidden_size % num_attention_heads != 0) {
    bad_key(source, "hidden_size", "(" + std::to_string(hidden_size) + ") must be divisible by num_attention_heads (" +
                                       std::to_string(num_attention_heads) + ")");
  }
  if (!(layer_norm_eps > 0.0)) bad_key(source, "layer_norm_eps", "must be positive");
  if (hidden_act != "quick_gelu" && hidden_act != "gelu" && hidden_act != "gelu_new" &&
      hidden_act != "gelu_pytorch_tanh" && hidden_act != "relu") {
    bad_key(source, "hidden_act",
            "is \"" + hidden_act + "\", which this engine does not implement (quick_gelu, gelu, gelu_new, "
            "gelu_pytorch_tanh, relu)");
  }
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
  read_int(*j, "vocab_size", c.vocab_size, source);
  read_int(*j, "hidden_size", c.hidden_size, source);
  read_int(*j, "intermediate_size", c.intermediate_size, source);
  read_int(*j, "projection_dim", c.projection_dim, source);
  read_int(*j, "num_hidden_layers", c.num_hidden_layers, source);
  read_int(*j, "num_attention_heads", c.num_attention_heads, source);
  read_int(*j, "max_position_embeddings", c.max_position_embeddings, source);
  read_string(*j, "hidden_act", c.hidden_act, source);
  read_number(*j, "layer_norm_eps", c.layer_norm_eps, source);
  read_number(*j, "attention_dropout", c.attention_dropout, source);
  read_int(*j, "pad_token_id", c.pad_token_id, source);
  read_int(*j, "bos_token_id", c.bos_token_id, source);
  read_int(*j, "eos_token_id", c.eos_token_id, source);
  c.validate(source);
  return c;
}

CLIPTextConfig load_clip_text_config(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw Error("text encoder config " + path + " does not exist. A diffusers pipeline keeps it in text_encoder/config.json.");
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {
    throw Error(path + " is not valid JSON (" + e.what() + ").");
  }
  return clip_text_config_from_json(j, path);
}

}  // namespace gligen
