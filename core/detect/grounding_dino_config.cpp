#include "core/detect/grounding_dino_config.h"

#include <nlohmann/json.hpp>

#include "core/nets/hf_activation.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::detect {
namespace {

const char* kFix =
    "Use the config.json of a GroundingDinoForObjectDetection folder (IDEA-Research/grounding-dino-base).";

}  // namespace

void GroundingDinoConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& key, const std::string& what) {
    throw Error(source + ": key \"" + key + "\" " + what + ". " + kFix);
  };
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) bad(key, "must be positive, got " + std::to_string(v));
  };
  positive("num_queries", num_queries);
  positive("encoder_layers", encoder_layers);
  positive("encoder_ffn_dim", encoder_ffn_dim);
  positive("encoder_attention_heads", encoder_attention_heads);
  positive("decoder_layers", decoder_layers);
  positive("decoder_ffn_dim", decoder_ffn_dim);
  positive("decoder_attention_heads", decoder_attention_heads);
  positive("d_model", d_model);
  positive("num_feature_levels", num_feature_levels);
  positive("encoder_n_points", encoder_n_points);
  positive("decoder_n_points", decoder_n_points);
  positive("max_text_len", max_text_len);
  if (!(layer_norm_eps > 0.0)) bad("layer_norm_eps", "must be positive");
  if (d_model % 32 != 0)
    bad("d_model", "(" + std::to_string(d_model) + ") must be a multiple of 32 (GroupNorm(32, d_model))");
  if (d_model % 2 != 0) bad("d_model", "must be even");
  if (d_model % encoder_attention_heads != 0) bad("encoder_attention_heads", "must divide d_model");
  if (d_model % decoder_attention_heads != 0) bad("decoder_attention_heads", "must divide d_model");
  if (encoder_attention_heads < 2 || d_model % (encoder_attention_heads / 2) != 0) {
    bad("encoder_attention_heads", "/ 2 (the text enhancer's heads) must be positive and divide d_model");
  }
  if (encoder_ffn_dim % 2 != 0 || fusion_embed_dim() % fusion_heads() != 0) {
    bad("encoder_ffn_dim", "/ 2 (the fusion width) must be divisible by encoder_attention_heads / 2");
  }
  if (position_embedding_type != "sine") {
    bad("position_embedding_type", "is \"" + position_embedding_type + "\"; only \"sine\" is implemented");
  }
  if (!two_stage) bad("two_stage", "is false; only two-stage Grounding DINO (the released models) is implemented");
  if (two_stage_bbox_embed_share) {
    bad("two_stage_bbox_embed_share", "is true, which transformers 4.40 cannot run either");
  }
  if (query_dim != 4) bad("query_dim", "must be 4 (box queries)");
  if (num_backbone_levels() < 1) bad("backbone_config", "must name at least one output stage");
  if (num_feature_levels < num_backbone_levels()) {
    bad("num_feature_levels", "(" + std::to_string(num_feature_levels) +
                                  ") must be at least the number of backbone "
                                  "outputs (" +
                                  std::to_string(num_backbone_levels()) + ")");
  }
  nets::hf_activation_from_name(activation_function, source + ": key \"activation_function\"");
}

GroundingDinoConfig grounding_dino_config_from_json(const nlohmann::json& j, const std::string& source) {
  ConfigReader r(j, source, kFix);
  std::string model_type = "grounding-dino";
  r.read("model_type", model_type);
  if (model_type != "grounding-dino") {
    r.fail("model_type", "is \"" + model_type + "\", not \"grounding-dino\": this is not a Grounding DINO model");
  }
  bool use_timm_backbone = false, use_pretrained_backbone = false;
  r.read("use_timm_backbone", use_timm_backbone);
  r.read("use_pretrained_backbone", use_pretrained_backbone);
  if (use_timm_backbone || use_pretrained_backbone) {
    r.fail(use_timm_backbone ? "use_timm_backbone" : "use_pretrained_backbone",
           "is true; only the Swin backbone described by backbone_config is implemented");
  }
  if (r.has("backbone") && !r.has("backbone_config")) {
    r.fail("backbone", "names a backbone to download; only a backbone_config (Swin) is implemented");
  }
  if (const auto* kw = r.find("backbone_kwargs"); kw && !(kw->is_object() && kw->empty())) {
    r.fail("backbone_kwargs", "is set; only a backbone_config (Swin) is implemented");
  }

  GroundingDinoConfig c;
  if (r.has("backbone_config")) {
    const ConfigReader b = r.nested("backbone_config");
    std::string backbone_type;
    b.read("model_type", backbone_type);
    if (backbone_type != "swin") {
      b.fail("model_type", "is \"" + backbone_type + "\"; only a Swin backbone (\"swin\") is implemented");
    }
    c.backbone = nets::swin_config_from(b);
  } else {
    // GroundingDinoConfig's default backbone: Swin-T at 224 with window 7, stages 2-4.
    static const nlohmann::json swin_t = {
        {"window_size", 7},       {"image_size", 224},           {"embed_dim", 96},
        {"depths", {2, 2, 6, 2}}, {"num_heads", {3, 6, 12, 24}}, {"out_indices", {2, 3, 4}}};
    c.backbone = nets::swin_config_from(ConfigReader(swin_t, source + " [default backbone_config]", kFix));
  }
  c.text = nets::bert_config_from(r.nested("text_config"));

  r.read("num_queries", c.num_queries);
  r.read("encoder_layers", c.encoder_layers);
  r.read("encoder_ffn_dim", c.encoder_ffn_dim);
  r.read("encoder_attention_heads", c.encoder_attention_heads);
  r.read("decoder_layers", c.decoder_layers);
  r.read("decoder_ffn_dim", c.decoder_ffn_dim);
  r.read("decoder_attention_heads", c.decoder_attention_heads);
  r.read("activation_function", c.activation_function);
  r.read("d_model", c.d_model);
  r.read("position_embedding_type", c.position_embedding_type);
  r.read("num_feature_levels", c.num_feature_levels);
  r.read("encoder_n_points", c.encoder_n_points);
  r.read("decoder_n_points", c.decoder_n_points);
  r.read("two_stage", c.two_stage);
  r.read("max_text_len", c.max_text_len);
  r.read("embedding_init_target", c.embedding_init_target);
  r.read("query_dim", c.query_dim);
  r.read("decoder_bbox_embed_share", c.decoder_bbox_embed_share);
  r.read("two_stage_bbox_embed_share", c.two_stage_bbox_embed_share);
  r.read("positional_embedding_temperature", c.positional_embedding_temperature);
  r.read("layer_norm_eps", c.layer_norm_eps);
  c.validate(source);
  return c;
}

GroundingDinoConfig load_grounding_dino_config(const std::string& path) {
  return grounding_dino_config_from_json(read_json_file(path, "Grounding DINO config"), path);
}

}  // namespace gligen::detect
