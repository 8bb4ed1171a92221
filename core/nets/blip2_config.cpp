#include "core/nets/blip2_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace {

constexpr const char* kFix =
    "Use the config.json that came with the BLIP-2 model (a Hugging Face "
    "Blip2ForConditionalGeneration folder).";

bool known_activation(const std::string& name) {
  return name == "gelu" || name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "relu" || name == "silu" ||
         name == "swish";
}

void require_positive(const ConfigReader& r, const char* key, int64_t v) {
  if (v <= 0) r.fail(key, "must be positive, got " + std::to_string(v));
}

Blip2VisionConfig read_vision(const ConfigReader& r) {
  Blip2VisionConfig c;
  r.read("hidden_size", c.hidden_size);
  r.read("intermediate_size", c.intermediate_size);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("image_size", c.image_size);
  r.read("patch_size", c.patch_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("qkv_bias", c.qkv_bias);
  require_positive(r, "hidden_size", c.hidden_size);
  require_positive(r, "intermediate_size", c.intermediate_size);
  require_positive(r, "num_hidden_layers", c.num_hidden_layers);
  require_positive(r, "num_attention_heads", c.num_attention_heads);
  require_positive(r, "image_size", c.image_size);
  require_positive(r, "patch_size", c.patch_size);
  if (c.hidden_size % c.num_attention_heads != 0) {
    r.fail("hidden_size", "(" + std::to_string(c.hidden_size) + ") must be divisible by num_attention_heads (" +
                              std::to_string(c.num_attention_heads) + ")");
  }
  if (!known_activation(c.hidden_act)) r.fail("hidden_act", "is \"" + c.hidden_act + "\", which is not implemented");
  return c;
}

Blip2QFormerConfig read_qformer(const ConfigReader& r) {
  Blip2QFormerConfig c;
  r.read("hidden_size", c.hidden_size);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("intermediate_size", c.intermediate_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("cross_attention_frequency", c.cross_attention_frequency);
  r.read("encoder_hidden_size", c.encoder_hidden_size);
  r.read("position_embedding_type", c.position_embedding_type);
  require_positive(r, "hidden_size", c.hidden_size);
  require_positive(r, "num_hidden_layers", c.num_hidden_layers);
  require_positive(r, "num_attention_heads", c.num_attention_heads);
  require_positive(r, "intermediate_size", c.intermediate_size);
  require_positive(r, "cross_attention_frequency", c.cross_attention_frequency);
  if (c.hidden_size % c.num_attention_heads != 0) {
    r.fail("hidden_size", "(" + std::to_string(c.hidden_size) + ") must be divisible by num_attention_heads (" +
                              std::to_string(c.num_attention_heads) + ")");
  }
  if (!known_activation(c.hidden_act)) r.fail("hidden_act", "is \"" + c.hidden_act + "\", which is not implemented");
  // Relative position embeddings only act on text tokens, which captioning never feeds.
  if (c.position_embedding_type != "absolute") {
    r.fail("position_embedding_type", "is \"" + c.position_embedding_type + "\"; only \"absolute\" is implemented");
  }
  return c;
}

T5Config read_t5(const ConfigReader& r) {
  T5Config c;
  r.read("vocab_size", c.vocab_size);
  r.read("d_model", c.d_model);
  r.read("d_kv", c.d_kv);
  r.read("d_ff", c.d_ff);
  r.read("num_layers", c.num_layers);
  c.num_decoder_layers = c.num_layers;
  r.read("num_decoder_layers", c.num_decoder_layers);
  r.read("num_heads", c.num_heads);
  r.read("relative_attention_num_buckets", c.relative_attention_num_buckets);
  r.read("relative_attention_max_distance", c.relative_attention_max_distance);
  r.read("layer_norm_epsilon", c.layer_norm_epsilon);
  r.read("feed_forward_proj", c.feed_forward_proj);
  // T5Config.__init__: "gated-<act>" or "<act>"; "gated-gelu" means gelu_new for old checkpoints.
  const auto dash = c.feed_forward_proj.find('-');
  if (dash == std::string::npos) {
    c.dense_act_fn = c.feed_forward_proj;
    c.is_gated_act = false;
  } else {
    if (c.feed_forward_proj.substr(0, dash) != "gated" ||
        c.feed_forward_proj.find('-', dash + 1) != std::string::npos) {
      r.fail("feed_forward_proj", "is \"" + c.feed_forward_proj + "\"; it must be \"<act>\" or \"gated-<act>\"");
    }
    c.dense_act_fn = c.feed_forward_proj.substr(dash + 1);
    c.is_gated_act = true;
  }
  if (c.feed_forward_proj == "gated-gelu") c.dense_act_fn = "gelu_new";
  // Keys given explicitly override the derived values (PretrainedConfig sets extra kwargs last).
  r.read("dense_act_fn", c.dense_act_fn);
  r.read("is_gated_act", c.is_gated_act);
  r.read("tie_word_embeddings", c.tie_word_embeddings);
  r.read("pad_token_id", c.pad_token_id);
  r.read("eos_token_id", c.eos_token_id);
  r.read("bos_token_id", c.bos_token_id);
  r.read("decoder_start_token_id", c.decoder_start_token_id);
  r.read("max_length", c.max_length);
  r.read("min_length", c.min_length);
  r.read("num_beams", c.num_beams);
  r.read("do_sample", c.do_sample);
  r.read("use_cache", c.use_cache);

  require_positive(r, "vocab_size", c.vocab_size);
  require_positive(r, "d_model", c.d_model);
  require_positive(r, "d_kv", c.d_kv);
  require_positive(r, "d_ff", c.d_ff);
  require_positive(r, "num_layers", c.num_layers);
  require_positive(r, "num_decoder_layers", c.num_decoder_layers);
  require_positive(r, "num_heads", c.num_heads);
  require_positive(r, "relative_attention_num_buckets", c.relative_attention_num_buckets);
  require_positive(r, "relative_attention_max_distance", c.relative_attention_max_distance);
  require_positive(r, "max_length", c.max_length);
  if (!known_activation(c.dense_act_fn))
    r.fail("dense_act_fn", "is \"" + c.dense_act_fn + "\", which is not implemented");
  if (c.num_beams != 1 || c.do_sample) {
    r.fail(c.do_sample ? "do_sample" : "num_beams",
           "asks for beam search or sampling; only greedy generation (num_beams 1, do_sample false) is implemented");
  }
  if (c.eos_token_id < 0 || c.eos_token_id >= c.vocab_size) r.fail("eos_token_id", "is outside the vocabulary");
  return c;
}

}  // namespace

int64_t T5Config::start_token_id() const {
  const int64_t id = decoder_start_token_id >= 0 ? decoder_start_token_id : bos_token_id;
  if (id < 0 || id >= vocab_size) {
    throw Error(
        "the BLIP-2 text_config has no usable decoder_start_token_id or bos_token_id; T5 models start "
        "decoding from 0 (the pad token). " +
        std::string(kFix));
  }
  return id;
}

void Blip2Config::validate(const std::string& source) const {
  if (num_query_tokens <= 0) {
    throw Error(source + ": key \"num_query_tokens\" must be positive, got " + std::to_string(num_query_tokens) + ". " +
                kFix);
  }
  if (vision.image_size % vision.patch_size != 0) {
    throw Error(source + ": vision_config image_size " + std::to_string(vision.image_size) +
                " is not a multiple of patch_size " + std::to_string(vision.patch_size) + ". " + kFix);
  }
}

Blip2Config blip2_config_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object. " + kFix);
  const ConfigReader top(j, source, kFix);
  std::string model_type;
  top.read("model_type", model_type);
  if (!model_type.empty() && model_type != "blip-2") {
    throw Error(source + " is a \"" + model_type +
                "\" config, not BLIP-2 (\"blip-2\"). Point to a "
                "Blip2ForConditionalGeneration folder such as Salesforce/blip2-flan-t5-xl.");
  }
  Blip2Config c;
  top.read("num_query_tokens", c.num_query_tokens);
  c.vision = read_vision(top.nested("vision_config"));
  c.qformer = read_qformer(top.nested("qformer_config"));
  const ConfigReader text = top.nested("text_config");
  // Blip2Config: a text_config without model_type is an OPT config.
  c.text_model_type = "opt";
  text.read("model_type", c.text_model_type);
  if (c.text_model_type != "t5") {
    throw Error(source + ": the language model is \"" + c.text_model_type +
                "\" (text_config.model_type), but only BLIP-2 with a T5 / Flan-T5 language model is supported "
                "(e.g. Salesforce/blip2-flan-t5-xl or blip2-flan-t5-xxl), not the OPT variants.");
  }
  c.text = read_t5(text);
  // Blip2Config.__init__ overrides these two from the sub-configs.
  c.qformer.encoder_hidden_size = c.vision.hidden_size;
  c.tie_word_embeddings = c.text.tie_word_embeddings;
  c.validate(source);
  return c;
}

Blip2Config load_blip2_config(const std::string& folder) {
  const auto path = (std::filesystem::path(folder) / "config.json").string();
  if (!std::filesystem::is_regular_file(path)) {
    throw Error("BLIP-2 config " + path +
                " does not exist. Point to the downloaded Hugging Face folder "
                "(config.json, model*.safetensors, preprocessor_config.json, spiece.model).");
  }
  return blip2_config_from_json(read_json_file(path, "BLIP-2 config"), path);
}

BlipImageProcessorConfig blip_image_processor_config_from_json(const nlohmann::json& j, const std::string& source) {
  const ConfigReader r(j, source, "Use the preprocessor_config.json that came with the BLIP-2 model.");
  BlipImageProcessorConfig c;
  r.read("do_resize", c.do_resize);
  const ConfigReader size = r.nested("size");
  size.read("height", c.height);
  size.read("width", c.width);
  if (size.has("shortest_edge") || size.has("longest_edge")) {
    size.fail("shortest_edge", "is not supported: BlipImageProcessor resizes to {height, width}");
  }
  r.read("resample", c.resample);
  r.read("do_rescale", c.do_rescale);
  r.read("rescale_factor", c.rescale_factor);
  r.read("do_normalize", c.do_normalize);
  r.read("image_mean", c.image_mean);
  r.read("image_std", c.image_std);
  bool convert_rgb = true;
  r.read("do_convert_rgb", convert_rgb);  // images are always decoded to RGB here
  if (c.height <= 0 || c.width <= 0) r.fail("size", "must be positive");
  if (c.resample != 2 && c.resample != 3) {
    r.fail("resample", "is " + std::to_string(c.resample) + "; only 2 (BILINEAR) and 3 (BICUBIC) are implemented");
  }
  if (c.image_mean.size() != 3) r.fail("image_mean", "must have 3 values (R, G, B)");
  if (c.image_std.size() != 3) r.fail("image_std", "must have 3 values (R, G, B)");
  for (double s : c.image_std) {
    if (!(s > 0)) r.fail("image_std", "must be positive");
  }
  return c;
}

BlipImageProcessorConfig load_blip_image_processor_config(const std::string& folder) {
  const auto path = (std::filesystem::path(folder) / "preprocessor_config.json").string();
  if (!std::filesystem::is_regular_file(path)) {
    throw Error("BLIP-2 image processor config " + path +
                " does not exist. The Hugging Face BLIP-2 folder "
                "ships preprocessor_config.json; download it with the weights.");
  }
  return blip_image_processor_config_from_json(read_json_file(path, "BLIP-2 image processor config"), path);
}

}  // namespace gligen::nets
