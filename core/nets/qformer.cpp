#include "core/nets/qformer.h"

#include <cmath>

#include "core/nets/hf_activation.h"

namespace gligen::nets {
namespace {

torch::nn::LayerNorm qformer_layer_norm(const Blip2QFormerConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

}  // namespace

QFormerMultiHeadAttentionImpl::QFormerMultiHeadAttentionImpl(const Blip2QFormerConfig& c, bool cross_attention)
    : num_heads_(c.num_attention_heads), head_dim_(c.head_dim()) {
  const int64_t kv_in = cross_attention ? c.encoder_hidden_size : c.hidden_size;
  query = register_module("query", BareLinear(c.hidden_size, c.hidden_size));
  key = register_module("key", BareLinear(kv_in, c.hidden_size));
  value = register_module("value", BareLinear(kv_in, c.hidden_size));
}

torch::Tensor QFormerMultiHeadAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  // x: [B, Q, D], context: [B, T, Dk] -> heads [B, H, *, Dh]
  auto heads = [&](const torch::Tensor& y) {
    return y.view({y.size(0), y.size(1), num_heads_, head_dim_}).permute({0, 2, 1, 3});
  };
  auto k = heads(key->forward(context));
  auto v = heads(value->forward(context));
  auto q = heads(query->forward(x));
  // As transformers: the product is divided by sqrt(head_dim) (not the query pre-scaled).
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(head_dim_));  // [B, H, Q, T]
  auto probs = torch::softmax(scores, -1);
  auto ctx = torch::matmul(probs, v).permute({0, 2, 1, 3}).contiguous();  // [B, Q, H, Dh]
  return ctx.view({x.size(0), x.size(1), num_heads_ * head_dim_});
}

QFormerOutputImpl::QFormerOutputImpl(int64_t in_features, const Blip2QFormerConfig& c) {
  dense = register_module("dense", BareLinear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", qformer_layer_norm(c));
}

torch::Tensor QFormerOutputImpl::forward(const torch::Tensor& h, const torch::Tensor& residual) {
  return LayerNorm->forward(dense->forward(h) + residual);
}

QFormerAttentionImpl::QFormerAttentionImpl(const Blip2QFormerConfig& c, bool cross_attention) {
  attention = register_module("attention", QFormerMultiHeadAttention(c, cross_attention));
  output = register_module("output", QFormerOutput(c.hidden_size, c));
}

torch::Tensor QFormerAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  return output->forward(attention->forward(x, context), x);
}

QFormerIntermediateImpl::QFormerIntermediateImpl(const Blip2QFormerConfig& c)
    : activation_(hf_activation_from_name(c.hidden_act, "BLIP-2 qformer_config hidden_act")) {
  dense = register_module("dense", BareLinear(c.hidden_size, c.intermediate_size));
}

torch::Tensor QFormerIntermediateImpl::forward(const torch::Tensor& x) {
  return apply_hf_activation(activation_, dense->forward(x));
}

QFormerLayerImpl::QFormerLayerImpl(const Blip2QFormerConfig& c, int64_t index) {
  attention = register_module("attention", QFormerAttention(c, false));
  if (c.has_cross_attention(index)) crossattention = register_module("crossattention", QFormerAttention(c, true));
  intermediate_query = register_module("intermediate_query", QFormerIntermediate(c));
  output_query = register_module("output_query", QFormerOutput(c.intermediate_size, c));
}

torch::Tensor QFormerLayerImpl::forward(const torch::Tensor& queries, const torch::Tensor& image_embeds) {
  // queries: [B, Q, D]
  auto h = attention->forward(queries, queries);
  if (crossattention) h = crossattention->forward(h, image_embeds);
  return output_query->forward(intermediate_query->forward(h), h);
}

QFormerEncoderImpl::QFormerEncoderImpl(const Blip2QFormerConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(QFormerLayer(c, i));
}

torch::Tensor QFormerEncoderImpl::forward(torch::Tensor queries, const torch::Tensor& image_embeds,
                                          std::vector<torch::Tensor>* layer_outputs) {
  for (const auto& l : *layer) {
    queries = l->as<QFormerLayer>()->forward(queries, image_embeds);
    if (layer_outputs) layer_outputs->push_back(queries);
  }
  return queries;
}

Blip2QFormerModelImpl::Blip2QFormerModelImpl(const Blip2QFormerConfig& c) {
  layernorm = register_module("layernorm", qformer_layer_norm(c));
  encoder = register_module("encoder", QFormerEncoder(c));
}

QFormerOutputs Blip2QFormerModelImpl::forward(const torch::Tensor& query_embeds, const torch::Tensor& image_embeds,
                                              bool keep_stages) {
  QFormerOutputs out;
  auto x = layernorm->forward(query_embeds);  // [B, Q, D]
  if (keep_stages) out.embeddings = x;
  out.last_hidden_state =
      encoder->forward(x, image_embeds.to(x.scalar_type()), keep_stages ? &out.layer_outputs : nullptr);
  return out;
}

}  // namespace gligen::nets
