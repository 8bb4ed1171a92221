// Configuration of transformers' CLIPTextModel (v4.38), read from a pipeline's
// text_encoder/config.json. A key the file lacks takes the CLIPTextConfig default, as
// transformers does; a key of the wrong type or an unsupported activation is a gligen::Error
// naming the file and the key. No LibTorch here, so the pipeline can inspect a model cheaply.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace gligen::nets {

struct CLIPTextConfig {
  // Defaults are CLIPTextConfig.__init__'s (clip-vit-base-patch32's text tower), not SD's.
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t projection_dim = 512;  // recorded only: CLIPTextModel has no projection
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  // quick_gelu | gelu | gelu_new | gelu_pytorch_tanh | relu
  double layer_norm_eps = 1e-5;
  double attention_dropout = 0.0;  // recorded only: inference and frozen-encoder training run without dropout
  int64_t pad_token_id = 1;
  int64_t bos_token_id = 49406;
  // Selects the pooling rule: 2 (the value in SD 1.x configs, from before transformers PR
  // #24773) pools at argmax(input_ids); any other value pools at the first eos_token_id.
  int64_t eos_token_id = 49407;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // Throws gligen::Error for sizes that cannot be built (non-positive, hidden_size not divisible
  // by the head count) or an unknown activation. `source` names the file.
  void validate(const std::string& source = "text encoder config") const;
};

// Parses a CLIPTextConfig object (or a full CLIPConfig, whose "text_config" is used, as
// CLIPTextConfig.from_pretrained does) and validates it.
CLIPTextConfig clip_text_config_from_json(const nlohmann::json& json,
                                          const std::string& source = "text encoder config");

// Reads and parses `path` (a text_encoder/config.json). Throws gligen::Error when it is missing or invalid.
CLIPTextConfig load_clip_text_config(const std::string& path);

}  // namespace gligen::nets
