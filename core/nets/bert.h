// transformers' BertModel encoder (v4.40, eager attention), as Grounding DINO's text backbone
// uses it: absolute position embeddings looked up at caller-given position ids, token-type
// embeddings, post-norm layers, and an attention mask that may be 2-D (padding) or 3-D (one row of
// allowed keys per query), turned into the additive (1 - m) * finfo(dtype).min mask.
//
// Modules are registered under the transformers names:
//   embeddings.{word_embeddings, position_embeddings, token_type_embeddings}.weight, embeddings.LayerNorm
//   encoder.layer.N.attention.self.{query,key,value}, encoder.layer.N.attention.output.{dense,LayerNorm}
//   encoder.layer.N.intermediate.dense, encoder.layer.N.output.{dense,LayerNorm}
//   pooler.dense (only with add_pooling_layer)
// BERT's position_ids / token_type_ids buffers are non-persistent in transformers and are not
// module entries here.
#pragma once
#include <torch/torch.h>

#include "core/nets/bert_config.h"
#include "core/nets/hf_activation.h"

namespace gligen::nets {

class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& config);
  // ids, token_type_ids, position_ids: [B, L] int64 -> [B, L, D]
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                        const torch::Tensor& position_ids);
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};  // "LayerNorm"
};
TORCH_MODULE(BertEmbeddings);

// BertSelfAttention's core on projected inputs: q [B, Lq, D], k and v [B, Lk, D] split into
// `heads` heads, softmax(q k^T / sqrt(D / heads) + additive_mask) v, heads concatenated back to
// [B, Lq, D]. additive_mask broadcasts to [B, heads, Lq, Lk], or is undefined.
torch::Tensor bert_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads,
                             const torch::Tensor& additive_mask);

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& config);
  // x: [B, L, D]; additive_mask: broadcastable to [B, heads, L, L], or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};  // "attention.self.*"
  torch::nn::Linear attention_dense{nullptr};                      // "attention.output.dense"
  torch::nn::LayerNorm attention_norm{nullptr};                    // "attention.output.LayerNorm"
  torch::nn::Linear intermediate{nullptr};                         // "intermediate.dense"
  torch::nn::Linear output_dense{nullptr};                         // "output.dense"
  torch::nn::LayerNorm output_norm{nullptr};                       // "output.LayerNorm"

 private:
  int64_t heads_;
  HfActivation act_;
};
TORCH_MODULE(BertLayer);

// A BERT layer with cross-attention and no self-attention, as RAM's tagging head (the Q2L
// decoder: recognize-anything's BertLayer after its self-attention is deleted) runs it:
//   a = LayerNorm(dense(attention(query(x), key(ctx), value(ctx))) + x)
//   y = LayerNorm(output(act(intermediate(a))) + a)
// Modules are registered under the reference names:
//   crossattention.self.{query,key,value}, crossattention.output.{dense,LayerNorm},
//   intermediate.dense, output.{dense,LayerNorm}
// key and value map the context's `context_width` channels to hidden_size.
class BertCrossAttentionLayerImpl : public torch::nn::Module {
 public:
  BertCrossAttentionLayerImpl(const BertConfig& config, int64_t context_width);
  // x: [B, L, D] queries; context: [B, N, context_width]; additive_mask as bert_attention's.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& additive_mask = {},
                        torch::Tensor* attention_output = nullptr);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};  // "crossattention.self.*"
  torch::nn::Linear attention_dense{nullptr};                      // "crossattention.output.dense"
  torch::nn::LayerNorm attention_norm{nullptr};                    // "crossattention.output.LayerNorm"
  torch::nn::Linear intermediate{nullptr};                         // "intermediate.dense"
  torch::nn::Linear output_dense{nullptr};                         // "output.dense"
  torch::nn::LayerNorm output_norm{nullptr};                       // "output.LayerNorm"

 private:
  int64_t heads_;
  HfActivation act_;
};
TORCH_MODULE(BertCrossAttentionLayer);

class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& config, bool add_pooling_layer = false);

  // input_ids: [B, L] int64. attention_mask: [B, L] or [B, L, L], nonzero / true where attention
  // is allowed; undefined = all allowed. token_type_ids, position_ids: [B, L] or undefined (zeros,
  // 0..L-1). Returns last_hidden_state [B, L, D]. Ids or positions out of range throw gligen::Error.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                        const torch::Tensor& token_type_ids = {}, const torch::Tensor& position_ids = {});

  const BertConfig& config() const { return config_; }

  BertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};  // "encoder.layer"
  torch::nn::Linear pooler{nullptr};      // "pooler.dense", when built with a pooling layer

 private:
  BertConfig config_;
};
TORCH_MODULE(BertModel);

}  // namespace gligen::nets
