#include "core/nets/bert.h"

#include <cmath>
#include <limits>

#include "core/nets/dtype_limits.h"
#include "core/nets/module_tree.h"
#include "core/util/error.h"

namespace gligen::nets {

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module("word_embeddings",
                                    torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size)));
  position_embeddings =
      register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings =
      register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  layer_norm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                          const torch::Tensor& position_ids) {
  auto e = word_embeddings->forward(input_ids) + token_type_embeddings->forward(token_type_ids);
  e = e + position_embeddings->forward(position_ids);
  return layer_norm->forward(e);
}

BertLayerImpl::BertLayerImpl(const BertConfig& c)
    : heads_(c.num_attention_heads), act_(hf_activation_from_name(c.hidden_act, "BERT config")) {
  const int64_t d = c.hidden_size;
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(c.layer_norm_eps)); };
  query = register_at(*this, "attention.self.query", torch::nn::Linear(d, d));
  key = register_at(*this, "attention.self.key", torch::nn::Linear(d, d));
  value = register_at(*this, "attention.self.value", torch::nn::Linear(d, d));
  attention_dense = register_at(*this, "attention.output.dense", torch::nn::Linear(d, d));
  attention_norm = register_at(*this, "attention.output.LayerNorm", ln());
  intermediate = register_at(*this, "intermediate.dense", torch::nn::Linear(d, c.intermediate_size));
  output_dense = register_at(*this, "output.dense", torch::nn::Linear(c.intermediate_size, d));
  output_norm = register_at(*this, "output.LayerNorm", ln());
}

torch::Tensor bert_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads,
                             const torch::Tensor& additive_mask) {
  const int64_t b = q.size(0), lq = q.size(1), lk = k.size(1), d = q.size(2), head_dim = d / heads;
  auto split = [&](const torch::Tensor& t, int64_t l) { return t.view({b, l, heads, head_dim}).permute({0, 2, 1, 3}); };
  auto scores = torch::matmul(split(q, lq), split(k, lk).transpose(-1, -2)) / std::sqrt(double(head_dim));
  if (additive_mask.defined()) scores = scores + additive_mask;
  return torch::matmul(torch::softmax(scores, -1), split(v, lk)).permute({0, 2, 1, 3}).contiguous().view({b, lq, d});
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  auto ctx = bert_attention(query->forward(x), key->forward(x), value->forward(x), heads_, additive_mask);
  auto attn = attention_norm->forward(attention_dense->forward(ctx) + x);
  auto inner = apply_hf_activation(act_, intermediate->forward(attn));
  return output_norm->forward(output_dense->forward(inner) + attn);
}

BertCrossAttentionLayerImpl::BertCrossAttentionLayerImpl(const BertConfig& c, int64_t context_width)
    : heads_(c.num_attention_heads), act_(hf_activation_from_name(c.hidden_act, "BERT config")) {
  const int64_t d = c.hidden_size;
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(c.layer_norm_eps)); };
  query = register_at(*this, "crossattention.self.query", torch::nn::Linear(d, d));
  key = register_at(*this, "crossattention.self.key", torch::nn::Linear(context_width, d));
  value = register_at(*this, "crossattention.self.value", torch::nn::Linear(context_width, d));
  attention_dense = register_at(*this, "crossattention.output.dense", torch::nn::Linear(d, d));
  attention_norm = register_at(*this, "crossattention.output.LayerNorm", ln());
  intermediate = register_at(*this, "intermediate.dense", torch::nn::Linear(d, c.intermediate_size));
  output_dense = register_at(*this, "output.dense", torch::nn::Linear(c.intermediate_size, d));
  output_norm = register_at(*this, "output.LayerNorm", ln());
}

torch::Tensor BertCrossAttentionLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                                   const torch::Tensor& additive_mask,
                                                   torch::Tensor* attention_output) {
  auto ctx = bert_attention(query->forward(x), key->forward(context), value->forward(context), heads_, additive_mask);
  auto attn = attention_norm->forward(attention_dense->forward(ctx) + x);
  if (attention_output != nullptr) *attention_output = attn;
  auto inner = apply_hf_activation(act_, intermediate->forward(attn));
  return output_norm->forward(output_dense->forward(inner) + attn);
}

BertModelImpl::BertModelImpl(const BertConfig& config, bool add_pooling_layer) : config_(config) {
  config_.validate("BERT config");
  embeddings = register_module("embeddings", BertEmbeddings(config_));
  layers = register_at(*this, "encoder.layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) layers->push_back(BertLayer(config_));
  if (add_pooling_layer)
    pooler = register_at(*this, "pooler.dense", torch::nn::Linear(config_.hidden_size, config_.hidden_size));
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                     const torch::Tensor& token_type_ids, const torch::Tensor& position_ids) {
  if (input_ids.dim() != 2 || input_ids.size(1) == 0) {
    throw Error("BERT input_ids must be [batch, tokens] with at least one token");
  }
  const int64_t b = input_ids.size(0), l = input_ids.size(1);
  const auto dev = embeddings->word_embeddings->weight.device();
  auto ids = input_ids.to(dev, torch::kLong);
  auto check_range = [&](const torch::Tensor& t, int64_t limit, const std::string& what) {
    const auto lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
    if (lo < 0 || hi >= limit) {
      throw Error(what + " " + std::to_string(lo < 0 ? lo : hi) + " is outside the text encoder's range [0, " +
                  std::to_string(limit) + ")");
    }
  };
  check_range(ids, config_.vocab_size, "token id");
  auto types = token_type_ids.defined() ? token_type_ids.to(dev, torch::kLong) : torch::zeros({b, l}, ids.options());
  auto positions = position_ids.defined() ? position_ids.to(dev, torch::kLong)
                                          : torch::arange(l, ids.options()).unsqueeze(0).expand({b, l});
  check_range(types, config_.type_vocab_size, "token type id");
  check_range(positions, config_.max_position_embeddings, "position id");

  auto hidden = embeddings->forward(ids, types, positions);
  torch::Tensor additive;
  if (attention_mask.defined()) {
    // get_extended_attention_mask: [B, L, L] -> [B, 1, L, L]; [B, L] -> [B, 1, 1, L].
    auto m = attention_mask.to(dev);
    if (m.dim() == 3) {
      m = m.unsqueeze(1);
    } else if (m.dim() == 2) {
      m = m.unsqueeze(1).unsqueeze(1);
    } else {
      throw Error("BERT attention_mask must be [batch, tokens] or [batch, tokens, tokens]");
    }
    const auto dtype = hidden.scalar_type();
    additive = (1.0 - m.to(dtype)) * finfo_min(dtype);
  }
  for (const auto& layer : *layers) hidden = layer->as<BertLayerImpl>()->forward(hidden, additive);
  return hidden;
}

}  // namespace gligen::nets
