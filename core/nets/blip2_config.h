// Configuration of transformers' Blip2ForConditionalGeneration (v4.40) with a T5 (Flan-T5)
// language model, read from the config.json of a Hugging Face BLIP-2 folder, and of its
// BlipImageProcessor (preprocessor_config.json).
//
// config.json nests three sub-configs: "vision_config" (Blip2VisionConfig), "qformer_config"
// (Blip2QFormerConfig) and "text_config" (T5Config). save_pretrained writes only the values that
// differ from the class defaults, so every absent or null key takes the reference class default,
// as transformers does. A language model other than T5 (the OPT checkpoints) is refused with a
// message naming it. No LibTorch here, so a folder can be inspected cheaply.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gligen::nets {

// Blip2VisionConfig: the EVA ViT-g image encoder.
struct Blip2VisionConfig {
  int64_t hidden_size = 1408;
  int64_t intermediate_size = 6144;
  int64_t num_hidden_layers = 39;
  int64_t num_attention_heads = 16;
  int64_t image_size = 224;
  int64_t patch_size = 14;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-6;
  bool qkv_bias = true;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

// Blip2QFormerConfig: the BERT-style querying transformer. Only the settings the query path uses
// are kept (BLIP-2 captioning feeds no text to the Q-Former).
struct Blip2QFormerConfig {
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-12;
  int64_t cross_attention_frequency = 2;
  // Blip2Config sets this to the vision hidden size, whatever the file says.
  int64_t encoder_hidden_size = 1408;
  std::string position_embedding_type = "absolute";

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool has_cross_attention(int64_t layer) const { return layer % cross_attention_frequency == 0; }
};

// T5Config (v1.1 / Flan-T5 layout), with the generation settings transformers derives from it
// (BLIP-2's generate() uses language_model.generation_config, built from this config).
struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;  // absent: num_layers
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj = "relu";
  // Derived from feed_forward_proj ("gated-gelu" -> gated, "gelu_new"), unless the file gives
  // them: BLIP-2's conversion passes dense_act_fn="gelu", which wins.
  std::string dense_act_fn = "relu";
  bool is_gated_act = false;
  // Scales the decoder output by d_model**-0.5 before lm_head (T5's tied-head convention).
  bool tie_word_embeddings = true;

  // Generation (PretrainedConfig defaults; the T5 ids).
  int64_t pad_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t bos_token_id = -1;            // absent: none
  int64_t decoder_start_token_id = -1;  // absent: bos_token_id
  int64_t max_length = 20;              // counts the decoder start token
  int64_t min_length = 0;
  int64_t num_beams = 1;
  bool do_sample = false;
  bool use_cache = true;

  int64_t inner_dim() const { return num_heads * d_kv; }
  // The token generation starts from; throws gligen::Error when the config has none.
  int64_t start_token_id() const;
};

struct Blip2Config {
  Blip2VisionConfig vision;
  Blip2QFormerConfig qformer;
  T5Config text;
  int64_t num_query_tokens = 32;
  // The outer config's tie_word_embeddings: when true (PretrainedConfig's default) transformers
  // ties lm_head to the shared embedding. BLIP-2 T5 releases set it to false.
  bool tie_word_embeddings = true;
  std::string text_model_type = "t5";

  // Throws gligen::Error for sizes that cannot be built, unsupported activations or generation
  // modes. `source` names the file.
  void validate(const std::string& source) const;
};

// Parses a Blip2Config object. Throws gligen::Error naming `source` and the key on any problem,
// and for a language model that is not T5 (e.g. "opt").
Blip2Config blip2_config_from_json(const nlohmann::json& json, const std::string& source = "BLIP-2 config");

// Reads `<folder>/config.json`.
Blip2Config load_blip2_config(const std::string& folder);

// BlipImageProcessor (preprocessor_config.json). Defaults are the class defaults.
struct BlipImageProcessorConfig {
  bool do_resize = true;
  int64_t height = 384, width = 384;
  int64_t resample = 3;  // PIL.Image.BICUBIC; 2 (BILINEAR) is supported too
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::vector<double> image_mean{0.48145466, 0.4578275, 0.40821073};
  std::vector<double> image_std{0.26862954, 0.26130258, 0.27577711};
};

BlipImageProcessorConfig blip_image_processor_config_from_json(const nlohmann::json& json,
                                                               const std::string& source = "preprocessor config");
// Reads `<folder>/preprocessor_config.json`; throws gligen::Error when it is missing or invalid.
BlipImageProcessorConfig load_blip_image_processor_config(const std::string& folder);

}  // namespace gligen::nets
