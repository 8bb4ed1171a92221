#include "core/nets/bert_config.h"

#include "core/nets/hf_activation.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {

void BertConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& key, const std::string& what) {
    throw Error(source + ": key \"" + key + "\" " + what + ". Use the config.json that came with the model.");
  };
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) bad(key, "must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("type_vocab_size", type_vocab_size);
  if (hidden_size % num_attention_heads != 0) {
    bad("hidden_size", "(" + std::to_string(hidden_size) + ") must be divisible by num_attention_heads (" +
                           std::to_string(num_attention_heads) + ")");
  }
  if (!(layer_norm_eps > 0.0)) bad("layer_norm_eps", "must be positive");
  if (position_embedding_type != "absolute") {
    bad("position_embedding_type", "is \"" + position_embedding_type + "\"; only \"absolute\" is implemented");
  }
  hf_activation_from_name(hidden_act, source + ": key \"hidden_act\"");
}

BertConfig bert_config_from(const ConfigReader& r) {
  std::string model_type = "bert";
  r.read("model_type", model_type);
  if (model_type != "bert") {
    r.fail("model_type", "is \"" + model_type + "\"; only BERT text models (\"bert\") are implemented");
  }
  bool is_decoder = false, add_cross_attention = false;
  r.read("is_decoder", is_decoder);
  r.read("add_cross_attention", add_cross_attention);
  if (is_decoder || add_cross_attention) {
    r.fail(is_decoder ? "is_decoder" : "add_cross_attention", "is true; only BERT encoders are implemented");
  }
  BertConfig c;
  r.read("vocab_size", c.vocab_size);
  r.read("hidden_size", c.hidden_size);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("intermediate_size", c.intermediate_size);
  r.read("hidden_act", c.hidden_act);
  r.read("hidden_dropout_prob", c.hidden_dropout_prob);
  r.read("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  r.read("max_position_embeddings", c.max_position_embeddings);
  r.read("type_vocab_size", c.type_vocab_size);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("pad_token_id", c.pad_token_id);
  r.read("position_embedding_type", c.position_embedding_type);
  c.validate(r.source());
  return c;
}

}  // namespace gligen::nets
