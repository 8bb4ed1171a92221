// Configuration of transformers' BERT (BertConfig, v4.40), as a config.json of its own or nested
// in another model's (Grounding DINO's "text_config"). A key the file lacks takes the BertConfig
// default (bert-base-uncased's sizes), as transformers does. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>

namespace gligen {
class ConfigReader;
}

namespace gligen::nets {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;           // recorded only (inference)
  double attention_probs_dropout_prob = 0.1;  // recorded only
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::string position_embedding_type = "absolute";  // the only kind implemented

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Throws gligen::Error (naming `source`) for sizes that cannot be built or options not implemented
  // (relative position embeddings, decoder / cross-attention configurations).
  void validate(const std::string& source) const;
};

// Reads a BertConfig object (absent keys keep the defaults) and validates it. A "model_type"
// other than "bert" is refused.
BertConfig bert_config_from(const ConfigReader& reader);

}  // namespace gligen::nets
