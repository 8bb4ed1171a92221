#include "core/nets/clip_text.h"

#include "core/nets/dtype_limits.h"
#include "core/nets/hf_activation.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/io/safetensors.h"
#include "core/io/weights.h"
#include "core/io/state_dict.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace fs = std::filesystem;
namespace {}  // namespace

CLIPAttentionImpl::CLIPAttentionImpl(const CLIPTextConfig& config)
    : num_heads_(config.num_attention_heads),
      head_dim_(config.head_dim()),
      scale_(1.0 / std::sqrt(double(config.head_dim()))) {
  const int64_t d = config.hidden_size;
  // Registered in transformers' order (k, v, q, out) so named_parameters() lists as the checkpoint.
  k_proj = register_module("k_proj", torch::nn::Linear(d, d));
  v_proj = register_module("v_proj", torch::nn::Linear(d, d));
  q_proj = register_module("q_proj", torch::nn::Linear(d, d));
  out_proj = register_module("out_proj", torch::nn::Linear(d, d));
}

torch::Tensor CLIPAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& causal_mask,
                                         const torch::Tensor& padding_mask) {
  // x: [B, T, D]
  const int64_t b = x.size(0), t = x.size(1);
  auto heads = [&](const torch::Tensor& y) {  // [B, T, D] -> [B, H, T, Dh]
    return y.view({b, t, num_heads_, head_dim_}).transpose(1, 2);
  };
  // As transformers: the query is scaled before the product.
  auto q = heads(q_proj->forward(x) * scale_);
  auto k = heads(k_proj->forward(x));
  auto v = heads(v_proj->forward(x));
  auto scores = torch::matmul(q, k.transpose(-1, -2));  // [B, H, T, T]
  scores = scores + causal_mask;
  if (padding_mask.defined()) scores = scores + padding_mask;
  auto probs = torch::softmax(scores, -1);
  auto out = torch::matmul(probs, v);  // [B, H, T, Dh]
  out = out.transpose(1, 2).reshape({b, t, num_heads_ * head_dim_});
  return out_proj->forward(out);
}

CLIPMLPImpl::CLIPMLPImpl(const CLIPTextConfig& config)
    : activation_(hf_activation_from_name(config.hidden_act, "text encoder config hidden_act")) {
  fc1 = register_module("fc1", torch::nn::Linear(config.hidden_size, config.intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(config.intermediate_size, config.hidden_size));
}

torch::Tensor CLIPMLPImpl::forward(const torch::Tensor& x) {
  // x: [B, T, D] -> fc1 [B, T, I] -> act -> fc2 [B, T, D]
  return fc2->forward(apply_hf_activation(activation_, fc1->forward(x)));
}

namespace {
torch::nn::LayerNorm make_layer_norm(const CLIPTextConfig& config) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
}
}  // namespace

CLIPEncoderLayerImpl::CLIPEncoderLayerImpl(const CLIPTextConfig& config) {
  self_attn = register_module("self_attn", CLIPAttention(config));
  layer_norm1 = register_module("layer_norm1", make_layer_norm(config));
  mlp = register_module("mlp", CLIPMLP(config));
  layer_norm2 = register_module("layer_norm2", make_layer_norm(config));
}

torch::Tensor CLIPEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& causal_mask,
                                            const torch::Tensor& padding_mask) {
  // x: [B, T, D]
  auto h = x + self_attn->forward(layer_norm1->forward(x), causal_mask, padding_mask);
  return h + mlp->forward(layer_norm2->forward(h));
}

CLIPEncoderImpl::CLIPEncoderImpl(const CLIPTextConfig& config) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(CLIPEncoderLayer(config));
}

torch::Tensor CLIPEncoderImpl::forward(torch::Tensor x, const torch::Tensor& causal_mask,
                                       const torch::Tensor& padding_mask) {
  for (const auto& layer : *layers) x = layer->as<CLIPEncoderLayer>()->forward(x, causal_mask, padding_mask);
  return x;
}

CLIPTextEmbeddingsImpl::CLIPTextEmbeddingsImpl(const CLIPTextConfig& config) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  position_embedding =
      register_module("position_embedding", torch::nn::Embedding(config.max_position_embeddings, config.hidden_size));
}

torch::Tensor CLIPTextEmbeddingsImpl::forward(const torch::Tensor& input_ids) {
  // input_ids: [B, T] -> [B, T, D]; positions 0..T-1 broadcast over the batch.
  auto positions = torch::arange(input_ids.size(1), input_ids.options().dtype(torch::kLong)).unsqueeze(0);
  return token_embedding->forward(input_ids) + position_embedding->forward(positions);
}

CLIPTextTransformerImpl::CLIPTextTransformerImpl(const CLIPTextConfig& config) : config_(config) {
  embeddings = register_module("embeddings", CLIPTextEmbeddings(config));
  encoder = register_module("encoder", CLIPEncoder(config));
  final_layer_norm = register_module("final_layer_norm", make_layer_norm(config));
}

CLIPTextOutput CLIPTextTransformerImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  // input_ids: [B, T]
  const int64_t b = input_ids.size(0), t = input_ids.size(1);
  auto hidden = embeddings->forward(input_ids);  // [B, T, D]
  const auto dtype = hidden.scalar_type();
  const double lowest = finfo_min(dtype);
  // Causal mask [T, T]: 0 on and below the diagonal, the dtype's lowest value above it.
  auto causal = torch::full({t, t}, lowest, hidden.options()).triu(1);
  // Padding mask [B, 1, 1, T]: the lowest value where attention_mask is 0, as transformers'
  // _prepare_4d_attention_mask. Padded keys are masked for every query; padded queries still
  // see the real tokens, so no softmax row is empty.
  torch::Tensor padding;
  if (attention_mask.defined()) {
    auto keep = attention_mask.to(hidden.device()).to(torch::kBool).view({b, 1, 1, t});
    padding = torch::zeros({b, 1, 1, t}, hidden.options()).masked_fill(keep.logical_not(), lowest);
  }
  hidden = encoder->forward(hidden, causal, padding);
  hidden = final_layer_norm->forward(hidden);

  // Pooling position per sequence (transformers v4.38): configs with eos_token_id == 2 (SD 1.x,
  // written before the eos id was fixed) take argmax(input_ids), i.e. the first highest id, which
  // is <|endoftext|> in CLIP's vocabulary; other configs take the first eos_token_id.
  auto ids = input_ids.to(hidden.device()).to(torch::kInt);
  torch::Tensor eos_at =
      config_.eos_token_id == 2 ? ids.argmax(-1) : ids.eq(config_.eos_token_id).to(torch::kInt).argmax(-1);
  auto rows = torch::arange(b, eos_at.options().dtype(torch::kLong));
  auto pooled = hidden.index({rows, eos_at.to(torch::kLong)});  // [B, D]
  return {hidden, pooled};
}

CLIPTextModelImpl::CLIPTextModelImpl(const CLIPTextConfig& config) : config_(config) {
  config_.validate();
  text_model = register_module("text_model", CLIPTextTransformer(config_));
}

CLIPTextOutput CLIPTextModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  if (input_ids.dim() != 2 || input_ids.size(1) == 0) {
    throw Error("text encoder input_ids must be [batch, tokens] with at least one token, got " +
                std::to_string(input_ids.dim()) + " dimensions");
  }
  if (c10::isFloatingType(input_ids.scalar_type()) || input_ids.scalar_type() == torch::kBool) {
    throw Error("text encoder input_ids must be integer token ids");
  }
  if (input_ids.size(1) > config_.max_position_embeddings) {
    throw Error("text encoder input has " + std::to_string(input_ids.size(1)) + " tokens, more than the " +
                std::to_string(config_.max_position_embeddings) +
                " positions of this model; tokenize with truncation to max_length " +
                std::to_string(config_.max_position_embeddings));
  }
  if (input_ids.numel() > 0) {
    const auto lo = input_ids.min().item<int64_t>(), hi = input_ids.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size) {
      throw Error("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the text encoder's vocabulary of " +
                  std::to_string(config_.vocab_size) + "; the tokenizer and text_encoder do not belong together");
    }
  }
  if (attention_mask.defined() && attention_mask.sizes() != input_ids.sizes()) {
    throw Error("text encoder attention_mask must have the shape of input_ids");
  }
  return text_model->forward(input_ids.to(torch::kLong), attention_mask);
}

const std::set<std::string>& clip_text_ignored_keys() {
  static const std::set<std::string> keys{"text_model.embeddings.position_ids"};
  return keys;
}

CLIPTextModel load_clip_text_model(const std::string& text_encoder_dir, torch::Device device, torch::ScalarType dtype,
                                   MapAccess mapping) {
  const fs::path dir(text_encoder_dir);
  if (!fs::is_directory(dir)) {
    throw Error("text encoder folder " + text_encoder_dir +
                " does not exist. Point to a diffusers pipeline folder "
                "that has text_encoder/.");
  }
  const auto config = load_clip_text_config((dir / "config.json").string());
  CLIPTextModel model(config);

  // safetensors (an fp16-only folder too, sharded) or .bin; load_strict converts dtypes.
  io::WeightLoadOptions load;
  load.mapping = mapping;
  io::StateDict weights = io::load_component_weights(text_encoder_dir, load);
  // A released CLIPModel folder (openai/clip-vit-large-patch14) holds both towers: keep the text
  // tower's keys (still loaded strictly) and drop the image tower and the two projections, which
  // the pooled text embedding does not use.
  if (read_json_file((dir / "config.json").string(), "the text encoder config").value("model_type", std::string()) ==
      "clip") {
    for (auto it = weights.begin(); it != weights.end();) {
      const std::string& k = it->first;
      const bool other = k.rfind("vision_model.", 0) == 0 || k.rfind("visual_projection.", 0) == 0 ||
                         k.rfind("text_projection.", 0) == 0 || k == "logit_scale";
      it = other ? weights.erase(it) : std::next(it);
    }
  }
  io::load_strict(*model, weights, "the text encoder in " + text_encoder_dir, clip_text_ignored_keys(),
                  io::WeightSharing::ShareWhenPossible);
  model->to(device, dtype);
  model->eval();
  return model;
}

}  // namespace gligen::nets
