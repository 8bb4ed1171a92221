#include "core/detect/grounding_dino_model.h"

#include <algorithm>
#include <cmath>

#include "core/nets/module_tree.h"
#include "core/util/error.h"

namespace gligen::detect {
namespace {

using nets::register_at;
using torch::indexing::None;
using torch::indexing::Slice;
namespace F = torch::nn::functional;

torch::nn::LayerNorm layer_norm(int64_t d, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps));
}

// GroundingDinoSinePositionEmbedding (normalize, scale 2pi) of a [B, H, W] bool mask: float32
// [B, 2 * embedding_dim, H, W], channels [pos_y, pos_x] with interleaved sin / cos.
torch::Tensor image_position_embedding(const torch::Tensor& mask, int64_t embedding_dim, double temperature) {
  const double scale = 2 * M_PI, eps = 1e-6;
  auto y_embed = mask.cumsum(1, torch::kFloat);
  auto x_embed = mask.cumsum(2, torch::kFloat);
  y_embed = y_embed / (y_embed.index({Slice(), Slice(-1, None), Slice()}) + eps) * scale;
  x_embed = x_embed / (x_embed.index({Slice(), Slice(), Slice(-1, None)}) + eps) * scale;
  auto dim_t = torch::arange(embedding_dim, mask.options().dtype(torch::kFloat));
  dim_t = torch::pow(temperature, 2 * torch::div(dim_t, 2, "floor") / embedding_dim);
  auto interleave = [&](const torch::Tensor& e) {
    auto p = e.unsqueeze(-1) / dim_t;
    return torch::stack({p.index({"...", Slice(0, None, 2)}).sin(), p.index({"...", Slice(1, None, 2)}).cos()}, 4)
        .flatten(3);
  };
  return torch::cat({interleave(y_embed), interleave(x_embed)}, 3).permute({0, 3, 1, 2});
}

// nn.functional.interpolate(pixel_mask[None].float(), size).to(bool)[0] (nearest).
torch::Tensor downsample_mask(const torch::Tensor& pixel_mask, int64_t height, int64_t width) {
  auto m = F::interpolate(pixel_mask.unsqueeze(0).to(torch::kFloat),
                          F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(torch::kNearest));
  return m.to(torch::kBool)[0];
}

void record(Trace* trace, const std::string& name, const torch::Tensor& t) {
  if (trace) (*trace)[name] = t.detach().clone();
}

// GroundingDinoContrastiveEmbedding: vision . text^T, -inf where the token is masked, padded
// with -inf to max_text_len.
torch::Tensor contrastive_logits(const torch::Tensor& vision, const torch::Tensor& text,
                                 const torch::Tensor& text_token_mask, int64_t max_text_len) {
  auto out = torch::matmul(vision, text.transpose(-1, -2));
  out = out.masked_fill(text_token_mask.logical_not().unsqueeze(1), -INFINITY);
  auto sizes = out.sizes().vec();
  sizes.back() = max_text_len;
  auto padded = torch::full(sizes, -INFINITY, out.options());
  padded.index_put_({"...", Slice(None, out.size(-1))}, out);
  return padded;
}

}  // namespace

const std::vector<int64_t>& grounding_dino_special_token_ids() {
  static const std::vector<int64_t> ids{101, 102, 1012, 1029};
  return ids;
}

std::pair<torch::Tensor, torch::Tensor> grounding_dino_text_masks(const torch::Tensor& input_ids) {
  auto ids = input_ids.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t b = ids.size(0), n = ids.size(1);
  auto mask = torch::eye(n, torch::kBool).unsqueeze(0).repeat({b, 1, 1});
  auto positions = torch::zeros({b, n}, torch::kLong);
  const auto& special = grounding_dino_special_token_ids();
  auto id = ids.accessor<int64_t, 2>();
  auto m = mask.accessor<bool, 3>();
  auto pos = positions.accessor<int64_t, 2>();
  // The reference iterates torch.nonzero over the whole batch in row-major order and carries
  // previous_col across rows (a quirk that only matters for batches).
  int64_t previous = 0;
  for (int64_t r = 0; r < b; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      if (std::find(special.begin(), special.end(), id[r][c]) == special.end()) continue;
      if (c == 0 || c == n - 1) {
        m[r][c][c] = true;
        pos[r][c] = 0;
      } else {
        for (int64_t i = previous + 1; i <= c; ++i) {
          for (int64_t j = previous + 1; j <= c; ++j) m[r][i][j] = true;
          pos[r][i] = i - previous - 1;
        }
      }
      previous = c;
    }
  }
  return {mask.to(input_ids.device()), positions.to(input_ids.device())};
}

torch::Tensor sine_position_features(const torch::Tensor& pos, int64_t num_pos_feats, double temperature,
                                     bool exchange_xy) {
  const double scale = 2 * M_PI;
  auto dim_t = torch::arange(num_pos_feats, pos.options().dtype(torch::kFloat));
  dim_t = torch::pow(temperature, 2 * torch::div(dim_t, 2, "floor") / num_pos_feats);
  std::vector<torch::Tensor> parts;
  for (const auto& x : pos.split(1, -1)) {
    auto s = x * scale / dim_t;
    parts.push_back(
        torch::stack({s.index({"...", Slice(0, None, 2)}).sin(), s.index({"...", Slice(1, None, 2)}).cos()}, 3)
            .flatten(2));
  }
  if (exchange_xy && parts.size() >= 2) std::swap(parts[0], parts[1]);
  return torch::cat(parts, -1);
}

MlpHeadImpl::MlpHeadImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim, int64_t num_layers) {
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_layers; ++i) {
    const int64_t in = i == 0 ? input_dim : hidden_dim, out = i == num_layers - 1 ? output_dim : hidden_dim;
    linears.push_back(torch::nn::Linear(in, out));
    list->push_back(linears.back());
  }
}

torch::Tensor MlpHeadImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < linears.size(); ++i) {
    x = linears[i]->forward(x);
    if (i + 1 < linears.size()) x = torch::relu(x);
  }
  return x;
}

GdMultiheadAttentionImpl::GdMultiheadAttentionImpl(int64_t d_model, int64_t num_heads)
    : heads_(num_heads), head_dim_(d_model / num_heads) {
  query = register_module("query", torch::nn::Linear(d_model, d_model));
  key = register_module("key", torch::nn::Linear(d_model, d_model));
  value = register_module("value", torch::nn::Linear(d_model, d_model));
  out_proj = register_module("out_proj", torch::nn::Linear(d_model, d_model));
}

torch::Tensor GdMultiheadAttentionImpl::forward(const torch::Tensor& queries, const torch::Tensor& keys,
                                                const torch::Tensor& values, const torch::Tensor& additive_mask) {
  auto heads = [&](const torch::Tensor& t) {
    return t.view({t.size(0), t.size(1), heads_, head_dim_}).permute({0, 2, 1, 3});
  };
  auto q = heads(query->forward(queries));
  auto k = heads(key->forward(keys));
  auto v = heads(value->forward(values));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(head_dim_));
  if (additive_mask.defined()) scores = scores + additive_mask;
  auto ctx = torch::matmul(torch::softmax(scores, -1), v).permute({0, 2, 1, 3}).contiguous();
  return out_proj->forward(ctx.view({ctx.size(0), ctx.size(1), heads_ * head_dim_}));
}

BiMultiHeadAttentionImpl::BiMultiHeadAttentionImpl(const GroundingDinoConfig& c)
    : embed_dim_(c.fusion_embed_dim()),
      heads_(c.fusion_heads()),
      head_dim_(c.fusion_embed_dim() / c.fusion_heads()),
      scale_(std::pow(double(c.fusion_embed_dim() / c.fusion_heads()), -0.5)) {
  const int64_t d = c.d_model, e = embed_dim_;
  vision_proj = register_module("vision_proj", torch::nn::Linear(d, e));
  text_proj = register_module("text_proj", torch::nn::Linear(d, e));
  values_vision_proj = register_module("values_vision_proj", torch::nn::Linear(d, e));
  values_text_proj = register_module("values_text_proj", torch::nn::Linear(d, e));
  out_vision_proj = register_module("out_vision_proj", torch::nn::Linear(e, d));
  out_text_proj = register_module("out_text_proj", torch::nn::Linear(e, d));
}

std::pair<torch::Tensor, torch::Tensor> BiMultiHeadAttentionImpl::forward(const torch::Tensor& vision,
                                                                          const torch::Tensor& text,
                                                                          const torch::Tensor& vision_padding,
                                                                          const torch::Tensor& text_padding) {
  const int64_t b = vision.size(0), nv = vision.size(1), nt = text.size(1);
  // [B, N, E] -> [B*heads, N, hd]
  auto split = [&](const torch::Tensor& t) {
    return t.view({b, -1, heads_, head_dim_}).transpose(1, 2).contiguous().view({b * heads_, -1, head_dim_});
  };
  auto vision_query = split(vision_proj->forward(vision) * scale_);
  auto text_key = split(text_proj->forward(text));
  auto vision_value = split(values_vision_proj->forward(vision));
  auto text_value = split(values_text_proj->forward(text));

  auto attn = torch::bmm(vision_query, text_key.transpose(1, 2));  // [B*h, Nv, Nt]
  attn = attn - attn.max();
  attn = torch::clamp(attn, -50000, 50000);
  auto transposed = attn.transpose(1, 2);
  auto text_attn = transposed - std::get<0>(torch::max(transposed, -1, /*keepdim=*/true));
  text_attn = torch::clamp(text_attn, -50000, 50000);
  if (vision_padding.defined()) {
    auto m = vision_padding.unsqueeze(1).unsqueeze(1).repeat({1, heads_, 1, 1}).flatten(0, 1);
    text_attn = text_attn.masked_fill(m, -INFINITY);
  }
  text_attn = text_attn.softmax(-1);
  if (text_padding.defined()) {
    auto m = text_padding.unsqueeze(1).unsqueeze(1).repeat({1, heads_, 1, 1}).flatten(0, 1);
    attn = attn.masked_fill(m, -INFINITY);
  }
  auto vision_attn = attn.softmax(-1);

  auto vision_out =
      torch::bmm(vision_attn, text_value).view({b, heads_, nv, head_dim_}).transpose(1, 2).reshape({b, nv, embed_dim_});
  auto text_out =
      torch::bmm(text_attn, vision_value).view({b, heads_, nt, head_dim_}).transpose(1, 2).reshape({b, nt, embed_dim_});
  return {out_vision_proj->forward(vision_out), out_text_proj->forward(text_out)};
}

FusionLayerImpl::FusionLayerImpl(const GroundingDinoConfig& c) {
  layer_norm_vision = register_module("layer_norm_vision", layer_norm(c.d_model, c.layer_norm_eps));
  layer_norm_text = register_module("layer_norm_text", layer_norm(c.d_model, c.layer_norm_eps));
  attn = register_module("attn", BiMultiHeadAttention(c));
  vision_param = register_parameter("vision_param", torch::full({c.d_model}, 1e-4));
  text_param = register_parameter("text_param", torch::full({c.d_model}, 1e-4));
}

std::pair<torch::Tensor, torch::Tensor> FusionLayerImpl::forward(const torch::Tensor& vision_in,
                                                                 const torch::Tensor& text_in,
                                                                 const torch::Tensor& vision_padding,
                                                                 const torch::Tensor& text_padding) {
  auto vision = layer_norm_vision->forward(vision_in);
  auto text = layer_norm_text->forward(text_in);
  auto [dv, dt] = attn->forward(vision, text, vision_padding, text_padding);
  return {vision + vision_param * dv, text + text_param * dt};
}

TextEnhancerLayerImpl::TextEnhancerLayerImpl(const GroundingDinoConfig& c)
    : act_(nets::hf_activation_from_name(c.activation_function, "Grounding DINO config")) {
  self_attn = register_module("self_attn", GdMultiheadAttention(c.d_model, c.encoder_attention_heads / 2));
  fc1 = register_module("fc1", torch::nn::Linear(c.d_model, c.encoder_ffn_dim / 2));
  fc2 = register_module("fc2", torch::nn::Linear(c.encoder_ffn_dim / 2, c.d_model));
  layer_norm_before = register_module("layer_norm_before", layer_norm(c.d_model, c.layer_norm_eps));
  layer_norm_after = register_module("layer_norm_after", layer_norm(c.d_model, c.layer_norm_eps));
}

torch::Tensor TextEnhancerLayerImpl::forward(const torch::Tensor& text, const torch::Tensor& self_attention_mask,
                                             const torch::Tensor& position_embeddings) {
  // (1 - mask) * finfo(float16).min, built in float16 whatever the model's dtype: -65504 where
  // attention is not allowed (finite), broadcast over the heads.
  auto additive = self_attention_mask.logical_not().to(text.scalar_type()).unsqueeze(1) * -65504.0;
  auto qk = text + position_embeddings;
  auto attended = self_attn->forward(qk, qk, text, additive);
  auto hidden = layer_norm_before->forward(text + attended);
  auto ffn = fc2->forward(nets::apply_hf_activation(act_, fc1->forward(hidden)));
  return layer_norm_after->forward(ffn + hidden);
}

DeformableLayerImpl::DeformableLayerImpl(const GroundingDinoConfig& c)
    : act_(nets::hf_activation_from_name(c.activation_function, "Grounding DINO config")) {
  self_attn = register_module("self_attn", MultiscaleDeformableAttention(c.d_model, c.encoder_attention_heads,
                                                                         c.num_feature_levels, c.encoder_n_points));
  self_attn_layer_norm = register_module("self_attn_layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
  fc1 = register_module("fc1", torch::nn::Linear(c.d_model, c.encoder_ffn_dim));
  fc2 = register_module("fc2", torch::nn::Linear(c.encoder_ffn_dim, c.d_model));
  final_layer_norm = register_module("final_layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
}

torch::Tensor DeformableLayerImpl::forward(const torch::Tensor& vision, const torch::Tensor& valid_mask,
                                           const torch::Tensor& position_embeddings,
                                           const torch::Tensor& reference_points, const Levels& levels) {
  auto attended = self_attn->forward(vision, position_embeddings, vision, valid_mask, reference_points, levels.shapes,
                                     levels.spatial_shapes);
  auto hidden = self_attn_layer_norm->forward(vision + attended);
  auto ffn = fc2->forward(nets::apply_hf_activation(act_, fc1->forward(hidden)));
  return final_layer_norm->forward(hidden + ffn);
}

EncoderLayerImpl::EncoderLayerImpl(const GroundingDinoConfig& c) {
  text_enhancer_layer = register_module("text_enhancer_layer", TextEnhancerLayer(c));
  fusion_layer = register_module("fusion_layer", FusionLayer(c));
  deformable_layer = register_module("deformable_layer", DeformableLayer(c));
}

DecoderLayerImpl::DecoderLayerImpl(const GroundingDinoConfig& c)
    : act_(nets::hf_activation_from_name(c.activation_function, "Grounding DINO config")) {
  self_attn = register_module("self_attn", GdMultiheadAttention(c.d_model, c.decoder_attention_heads));
  self_attn_layer_norm = register_module("self_attn_layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
  encoder_attn_text = register_module("encoder_attn_text", GdMultiheadAttention(c.d_model, c.decoder_attention_heads));
  encoder_attn_text_layer_norm =
      register_module("encoder_attn_text_layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
  encoder_attn = register_module(
      "encoder_attn",
      MultiscaleDeformableAttention(c.d_model, c.decoder_attention_heads, c.num_feature_levels, c.decoder_n_points));
  encoder_attn_layer_norm = register_module("encoder_attn_layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
  fc1 = register_module("fc1", torch::nn::Linear(c.d_model, c.decoder_ffn_dim));
  fc2 = register_module("fc2", torch::nn::Linear(c.decoder_ffn_dim, c.d_model));
  final_layer_norm = register_module("final_layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& hidden_in, const torch::Tensor& pos,
                                        const torch::Tensor& reference_points, const Levels& levels,
                                        const torch::Tensor& vision, const torch::Tensor& valid_mask,
                                        const torch::Tensor& text) {
  auto qk = hidden_in + pos;
  auto hidden = self_attn_layer_norm->forward(hidden_in + self_attn->forward(qk, qk, hidden_in));
  auto text_attended = encoder_attn_text->forward(hidden + pos, text, text);
  hidden = encoder_attn_text_layer_norm->forward(hidden + text_attended);
  auto vision_attended =
      encoder_attn->forward(hidden, pos, vision, valid_mask, reference_points, levels.shapes, levels.spatial_shapes);
  hidden = encoder_attn_layer_norm->forward(hidden + vision_attended);
  auto ffn = fc2->forward(nets::apply_hf_activation(act_, fc1->forward(hidden)));
  return final_layer_norm->forward(hidden + ffn);
}

GroundingDinoModelImpl::GroundingDinoModelImpl(const GroundingDinoConfig& c) {
  backbone = register_at(*this, "backbone.conv_encoder.model", nets::SwinBackbone(c.backbone));
  auto proj_list = register_module("input_proj_vision", torch::nn::ModuleList());
  int64_t in_channels = 0;
  for (int64_t l = 0; l < c.num_feature_levels; ++l) {
    torch::nn::Sequential seq;
    if (l < c.num_backbone_levels()) {
      in_channels = c.backbone_channels(l);
      seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, c.d_model, 1)));
    } else {
      seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, c.d_model, 3).stride(2).padding(1)));
      in_channels = c.d_model;
    }
    seq->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(32, c.d_model)));
    input_proj.push_back(seq);
    proj_list->push_back(seq);
  }
  text_backbone = register_module("text_backbone", nets::BertModel(c.text));
  text_projection = register_module("text_projection", torch::nn::Linear(c.text.hidden_size, c.d_model));
  if (c.embedding_init_target) {
    query_position_embeddings =
        register_module("query_position_embeddings", torch::nn::Embedding(c.num_queries, c.d_model));
  }
  auto enc = register_at(*this, "encoder.layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.encoder_layers; ++i) {
    encoder_layers.push_back(EncoderLayer(c));
    enc->push_back(encoder_layers.back());
  }
  decoder_layer_norm = register_at(*this, "decoder.layer_norm", layer_norm(c.d_model, c.layer_norm_eps));
  auto dec = register_at(*this, "decoder.layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.decoder_layers; ++i) {
    decoder_layers.push_back(DecoderLayer(c));
    dec->push_back(decoder_layers.back());
  }
  reference_points_head = register_at(*this, "decoder.reference_points_head",
                                      MlpHead(c.query_dim / 2 * c.d_model, c.d_model, c.d_model, 2));
  level_embed = register_parameter("level_embed", torch::zeros({c.num_feature_levels, c.d_model}));
  enc_output = register_module("enc_output", torch::nn::Linear(c.d_model, c.d_model));
  enc_output_norm = register_module("enc_output_norm", layer_norm(c.d_model, c.layer_norm_eps));
  encoder_output_bbox_embed = register_module("encoder_output_bbox_embed", MlpHead(c.d_model, c.d_model, 4, 3));
}

GroundingDinoForObjectDetectionImpl::GroundingDinoForObjectDetectionImpl(const GroundingDinoConfig& config)
    : config_(config) {
  config_.validate("Grounding DINO config");
  model = register_module("model", GroundingDinoModel(config_));
  auto list = register_module("bbox_embed", torch::nn::ModuleList());
  bbox_embed = MlpHead(config_.d_model, config_.d_model, 4, 3);
  list->push_back(bbox_embed);
}

std::map<std::string, std::string> grounding_dino_tied_keys(const GroundingDinoConfig& config) {
  std::map<std::string, std::string> tied;
  for (int64_t layer = 0; layer < 3; ++layer) {
    for (const char* kind : {"weight", "bias"}) {
      const std::string suffix = ".layers." + std::to_string(layer) + "." + kind;
      const std::string stored = "bbox_embed.0" + suffix;
      for (int64_t i = 0; i < config.decoder_layers; ++i) {
        if (i > 0) tied["bbox_embed." + std::to_string(i) + suffix] = stored;
        tied["model.decoder.bbox_embed." + std::to_string(i) + suffix] = stored;
      }
    }
  }
  return tied;
}

GroundingDinoOutputs GroundingDinoForObjectDetectionImpl::forward(const GroundingDinoInputs& inputs, Trace* trace) {
  const auto& c = config_;
  auto& m = *model;
  const auto param = m.text_projection->weight;
  const auto device = param.device();
  const auto dtype = param.scalar_type();

  // ---- inputs
  if (!inputs.input_ids.defined() || inputs.input_ids.dim() != 2 || inputs.input_ids.size(1) == 0) {
    throw Error("Grounding DINO input_ids must be [batch, tokens] with at least one token");
  }
  if (!inputs.pixel_values.defined() || inputs.pixel_values.dim() != 4 || inputs.pixel_values.size(1) != 3) {
    throw Error("Grounding DINO pixel_values must be [batch, 3, height, width]");
  }
  const int64_t b = inputs.pixel_values.size(0), num_tokens = inputs.input_ids.size(1);
  if (inputs.input_ids.size(0) != b) throw Error("Grounding DINO: one text per image is required");
  if (num_tokens > c.max_text_len) {
    throw Error("the detector text has " + std::to_string(num_tokens) +
                " tokens, more than the model's max_text_len (" + std::to_string(c.max_text_len) +
                "); use fewer or shorter phrases (transformers fails on such input)");
  }
  auto input_ids = inputs.input_ids.to(device, torch::kLong);
  auto [self_attention_mask, position_ids] = grounding_dino_text_masks(input_ids);
  auto attention_mask =
      inputs.attention_mask.defined() ? inputs.attention_mask.to(device) : torch::ones_like(input_ids);
  auto token_type_ids =
      inputs.token_type_ids.defined() ? inputs.token_type_ids.to(device, torch::kLong) : torch::zeros_like(input_ids);
  auto text_token_mask = attention_mask.to(torch::kBool);
  record(trace, "text.self_attention_mask", self_attention_mask);
  record(trace, "text.position_ids", position_ids);

  // ---- text backbone
  auto text_features = m.text_backbone->forward(input_ids, self_attention_mask, token_type_ids, position_ids);
  record(trace, "model.text_backbone:last_hidden_state", text_features);
  text_features = m.text_projection->forward(text_features);
  record(trace, "model.text_projection", text_features);

  // ---- image backbone, projections, position embeddings
  auto pixel_values = inputs.pixel_values.to(device, dtype);
  auto pixel_mask = inputs.pixel_mask.defined()
                        ? inputs.pixel_mask.to(device, torch::kLong)
                        : torch::ones({b, pixel_values.size(2), pixel_values.size(3)},
                                      torch::TensorOptions().device(device).dtype(torch::kLong));
  auto backbone_maps = m.backbone->forward(pixel_values, [&](const std::string& name, const torch::Tensor& t) {
    record(trace, "model.backbone.conv_encoder.model." + name, t);
  });
  std::vector<torch::Tensor> sources, masks, positions;
  const int64_t half = c.d_model / 2;
  const double temperature = c.positional_embedding_temperature;
  for (size_t l = 0; l < backbone_maps.size(); ++l) {
    const auto& f = backbone_maps[l];
    record(trace, "model.backbone.conv_encoder:feature_map." + std::to_string(l), f);
    auto mask = downsample_mask(pixel_mask, f.size(2), f.size(3));
    positions.push_back(image_position_embedding(mask, half, temperature).to(dtype));
    record(trace, "model.backbone.position_embedding:level" + std::to_string(l), positions.back());
    masks.push_back(mask);
    sources.push_back(m.input_proj[l]->forward(f));
    record(trace, "model.input_proj_vision." + std::to_string(l), sources.back());
  }
  for (int64_t l = static_cast<int64_t>(sources.size()); l < c.num_feature_levels; ++l) {
    auto src = m.input_proj[l]->forward(l == c.num_backbone_levels() ? backbone_maps.back() : sources.back());
    record(trace, "model.input_proj_vision." + std::to_string(l), src);
    auto mask = downsample_mask(pixel_mask, src.size(2), src.size(3));
    positions.push_back(image_position_embedding(mask, half, temperature).to(dtype));
    record(trace, "model.backbone.position_embedding:level" + std::to_string(l), positions.back());
    masks.push_back(mask);
    sources.push_back(src);
  }

  // ---- flatten
  Levels levels;
  std::vector<torch::Tensor> flat_sources, flat_masks, flat_positions, ratios;
  std::vector<int64_t> shape_values, starts;
  int64_t offset = 0;
  for (int64_t l = 0; l < c.num_feature_levels; ++l) {
    const int64_t h = sources[l].size(2), w = sources[l].size(3);
    levels.shapes.emplace_back(h, w);
    shape_values.insert(shape_values.end(), {h, w});
    starts.push_back(offset);
    offset += h * w;
    flat_sources.push_back(sources[l].flatten(2).transpose(1, 2));
    flat_masks.push_back(masks[l].flatten(1));
    flat_positions.push_back(positions[l].flatten(2).transpose(1, 2) + m.level_embed[l].view({1, 1, -1}));
    // get_valid_ratio
    auto valid_h = masks[l].index({Slice(), Slice(), 0}).sum(1);
    auto valid_w = masks[l].index({Slice(), 0, Slice()}).sum(1);
    ratios.push_back(torch::stack({valid_w.to(torch::kFloat) / w, valid_h.to(torch::kFloat) / h}, -1));
  }
  auto source_flatten = torch::cat(flat_sources, 1);
  auto mask_flatten = torch::cat(flat_masks, 1);  // true = valid
  auto position_flatten = torch::cat(flat_positions, 1);
  levels.spatial_shapes = torch::tensor(shape_values, torch::kLong).view({-1, 2}).to(device);
  levels.level_start_index = torch::tensor(starts, torch::kLong).to(device);
  levels.valid_ratios = torch::stack(ratios, 1).to(torch::kFloat);
  record(trace, "model.encoder:in.vision_position_embedding", position_flatten);
  record(trace, "model.encoder:in.spatial_shapes", levels.spatial_shapes);
  record(trace, "model.encoder:in.level_start_index", levels.level_start_index);
  record(trace, "model.encoder:in.valid_ratios", levels.valid_ratios);

  // ---- encoder
  // get_reference_points: pixel centres per level, relative to the valid area.
  std::vector<torch::Tensor> refs;
  for (int64_t l = 0; l < c.num_feature_levels; ++l) {
    const auto [h, w] = levels.shapes[l];
    auto fopt = torch::TensorOptions().device(device).dtype(torch::kFloat);
    auto grids =
        torch::meshgrid({torch::linspace(0.5, h - 0.5, h, fopt), torch::linspace(0.5, w - 0.5, w, fopt)}, "ij");
    auto ref_y = grids[0].reshape(-1).unsqueeze(0) / (levels.valid_ratios.index({Slice(), None, l, 1}) * h);
    auto ref_x = grids[1].reshape(-1).unsqueeze(0) / (levels.valid_ratios.index({Slice(), None, l, 0}) * w);
    refs.push_back(torch::stack({ref_x, ref_y}, -1));
  }
  auto encoder_refs = (torch::cat(refs, 1).unsqueeze(2) * levels.valid_ratios.unsqueeze(1)).to(dtype);
  auto text_pos = sine_position_features(position_ids.unsqueeze(-1), c.d_model, 10000, false).to(dtype);
  auto vision_padding = mask_flatten.logical_not();
  auto text_padding = text_token_mask.logical_not();
  auto vision = source_flatten;
  auto text = text_features;
  for (size_t i = 0; i < m.encoder_layers.size(); ++i) {
    auto& layer = m.encoder_layers[i];
    const std::string name = "model.encoder.layers." + std::to_string(i);
    std::tie(vision, text) = layer->fusion_layer->forward(vision, text, vision_padding, text_padding);
    record(trace, name + ".fusion_layer:vision", vision);
    record(trace, name + ".fusion_layer:text", text);
    text = layer->text_enhancer_layer->forward(text, self_attention_mask, text_pos);
    record(trace, name + ".text_enhancer_layer", text);
    vision = layer->deformable_layer->forward(vision, mask_flatten, position_flatten, encoder_refs, levels);
    record(trace, name + ".deformable_layer", vision);
    record(trace, name + ":vision", vision);
    record(trace, name + ":text", text);
  }
  record(trace, "model.encoder:last_hidden_state_vision", vision);
  record(trace, "model.encoder:last_hidden_state_text", text);

  // ---- two-stage proposals (generate_encoder_output_proposals), computed in float32
  std::vector<torch::Tensor> proposals;
  for (int64_t l = 0; l < c.num_feature_levels; ++l) {
    const auto [h, w] = levels.shapes[l];
    auto level_padding = vision_padding.slice(1, starts[l], starts[l] + h * w).view({b, h, w, 1});
    auto valid_h = level_padding.index({Slice(), Slice(), 0, 0}).logical_not().sum(1);
    auto valid_w = level_padding.index({Slice(), 0, Slice(), 0}).logical_not().sum(1);
    auto fopt = torch::TensorOptions().device(device).dtype(torch::kFloat);
    auto grids = torch::meshgrid({torch::linspace(0, h - 1, h, fopt), torch::linspace(0, w - 1, w, fopt)}, "ij");
    auto grid = torch::cat({grids[1].unsqueeze(-1), grids[0].unsqueeze(-1)}, -1);
    auto scale = torch::cat({valid_w.unsqueeze(-1), valid_h.unsqueeze(-1)}, 1).view({b, 1, 1, 2});
    grid = (grid.unsqueeze(0).expand({b, -1, -1, -1}) + 0.5) / scale;
    auto wh = torch::ones_like(grid) * 0.05 * std::pow(2.0, double(l));
    proposals.push_back(torch::cat({grid, wh}, -1).view({b, -1, 4}));
  }
  auto output_proposals = torch::cat(proposals, 1);
  auto proposals_valid = ((output_proposals > 0.01) & (output_proposals < 0.99)).all(-1, /*keepdim=*/true);
  output_proposals = torch::log(output_proposals / (1 - output_proposals));
  output_proposals = output_proposals.masked_fill(vision_padding.unsqueeze(-1), INFINITY);
  output_proposals = output_proposals.masked_fill(proposals_valid.logical_not(), INFINITY);
  auto object_query = vision.masked_fill(vision_padding.unsqueeze(-1), 0.0);
  object_query = object_query.masked_fill(proposals_valid.logical_not(), 0.0);
  object_query = m.enc_output_norm->forward(m.enc_output->forward(object_query));
  record(trace, "model.generate_encoder_output_proposals:object_query", object_query);
  record(trace, "model.generate_encoder_output_proposals:output_proposals", output_proposals);

  auto enc_class = contrastive_logits(object_query, text, text_token_mask, c.max_text_len);
  record(trace, "model:enc_outputs_class[..., :L]", enc_class.slice(-1, 0, num_tokens));
  auto enc_coord_logits = m.encoder_output_bbox_embed->forward(object_query) + output_proposals.to(dtype);
  record(trace, "model:enc_outputs_coord_logits", enc_coord_logits);
  auto [topk_values, topk_index] = torch::topk(std::get<0>(enc_class.max(-1)), c.num_queries, 1);
  record(trace, "model:topk_proposals", topk_index);
  record(trace, "model:topk_values", topk_values);
  auto reference_points = torch::gather(enc_coord_logits, 1, topk_index.unsqueeze(-1).repeat({1, 1, 4})).sigmoid();
  record(trace, "model:init_reference_points", reference_points);
  torch::Tensor hidden;
  if (c.embedding_init_target) {
    hidden = m.query_position_embeddings->weight.unsqueeze(0).repeat({b, 1, 1});
  } else {
    hidden = torch::gather(object_query, 1, topk_index.unsqueeze(-1).repeat({1, 1, c.d_model}));
  }
  record(trace, "model.decoder:in.inputs_embeds", hidden);

  // ---- decoder with iterative box refinement
  auto ratios4 = torch::cat({levels.valid_ratios, levels.valid_ratios}, -1).unsqueeze(1).to(dtype);
  std::vector<torch::Tensor> intermediate, intermediate_refs;
  torch::Tensor last_input_refs = reference_points;
  for (size_t i = 0; i < m.decoder_layers.size(); ++i) {
    const std::string name = "model.decoder.layers." + std::to_string(i);
    auto ref_input = reference_points.unsqueeze(2) * ratios4;  // [B, Q, L, 4]
    auto query_pos = sine_position_features(ref_input.select(2, 0), c.d_model / 2, 10000, true).to(dtype);
    query_pos = m.reference_points_head->forward(query_pos);
    record(trace, name + ":in.position_embeddings", query_pos);
    record(trace, name + ":in.reference_points", ref_input);
    hidden = m.decoder_layers[i]->forward(hidden, query_pos, ref_input, levels, vision, mask_flatten, text);
    record(trace, name, hidden);
    last_input_refs = reference_points;
    reference_points = (bbox_embed->forward(hidden) + torch::logit(reference_points, 1e-5)).sigmoid();
    intermediate.push_back(m.decoder_layer_norm->forward(hidden));
    intermediate_refs.push_back(reference_points);
  }
  if (trace) {
    record(trace, "model.decoder:intermediate_hidden_states", torch::stack(intermediate, 1));
    record(trace, "model.decoder:intermediate_reference_points", torch::stack(intermediate_refs, 1));
  }

  // ---- heads on the last decoder level
  GroundingDinoOutputs out;
  out.logits = contrastive_logits(intermediate.back(), text, text_token_mask, c.max_text_len);
  out.pred_boxes = (bbox_embed->forward(intermediate.back()) + torch::logit(last_input_refs, 1e-5)).sigmoid();
  record(trace, "logits", out.logits);
  record(trace, "pred_boxes", out.pred_boxes);
  return out;
}

}  // namespace gligen::detect
