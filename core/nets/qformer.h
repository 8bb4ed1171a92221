// BLIP-2's querying transformer (transformers' Blip2QFormerModel, v4.40), query path only:
// LayerNorm(query_tokens), then BERT post-LayerNorm layers whose self-attention runs over the
// queries, every cross_attention_frequency-th layer (0, f, 2f, ...) also attends to the image
// embeddings, and the query feed-forward (intermediate_query / output_query). No text input, so
// no word or position embeddings; attention masks are all ones (additive 0) and are omitted.
//
// Keys under "qformer." equal named_parameters():
//   layernorm.{weight,bias}
//   encoder.layer.N.attention.{attention.{query,key,value}, output.{dense,LayerNorm}}.{weight,bias}
//   encoder.layer.N.crossattention.(same)            (cross-attention layers only; key/value read Dv)
//   encoder.layer.N.{intermediate_query.dense, output_query.{dense,LayerNorm}}.{weight,bias}
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/nets/hf_activation.h"
#include "core/nets/bare_layers.h"
#include "core/nets/blip2_config.h"

namespace gligen::nets {

class QFormerMultiHeadAttentionImpl : public torch::nn::Module {
 public:
  QFormerMultiHeadAttentionImpl(const Blip2QFormerConfig& config, bool cross_attention);
  // x: [B, Q, D]; context: [B, T, Dk] (the image embeds for cross-attention, x itself otherwise).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);  // -> [B, Q, D]

  BareLinear query{nullptr}, key{nullptr}, value{nullptr};

 private:
  int64_t num_heads_, head_dim_;
};
TORCH_MODULE(QFormerMultiHeadAttention);

// LayerNorm(dense(h) + residual): BERT's SelfOutput and Output.
class QFormerOutputImpl : public torch::nn::Module {
 public:
  QFormerOutputImpl(int64_t in_features, const Blip2QFormerConfig& config);
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& residual);

  BareLinear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(QFormerOutput);

class QFormerAttentionImpl : public torch::nn::Module {
 public:
  QFormerAttentionImpl(const Blip2QFormerConfig& config, bool cross_attention);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);  // [B, Q, D] -> [B, Q, D]

  QFormerMultiHeadAttention attention{nullptr};
  QFormerOutput output{nullptr};
};
TORCH_MODULE(QFormerAttention);

class QFormerIntermediateImpl : public torch::nn::Module {
 public:
  explicit QFormerIntermediateImpl(const Blip2QFormerConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, Q, D] -> [B, Q, I]

  BareLinear dense{nullptr};

 private:
  HfActivation activation_;
};
TORCH_MODULE(QFormerIntermediate);

class QFormerLayerImpl : public torch::nn::Module {
 public:
  QFormerLayerImpl(const Blip2QFormerConfig& config, int64_t index);
  // queries: [B, Q, D]; image_embeds: [B, T, Dv].
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& image_embeds);

  QFormerAttention attention{nullptr};
  QFormerAttention crossattention{nullptr};  // null in layers without cross-attention
  QFormerIntermediate intermediate_query{nullptr};
  QFormerOutput output_query{nullptr};
};
TORCH_MODULE(QFormerLayer);

class QFormerEncoderImpl : public torch::nn::Module {
 public:
  explicit QFormerEncoderImpl(const Blip2QFormerConfig& config);
  torch::Tensor forward(torch::Tensor queries, const torch::Tensor& image_embeds,
                        std::vector<torch::Tensor>* layer_outputs = nullptr);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(QFormerEncoder);

struct QFormerOutputs {
  torch::Tensor embeddings;                  // [B, Q, D] LayerNorm(query_tokens) (only with stages)
  std::vector<torch::Tensor> layer_outputs;  // [B, Q, D] each (only with stages)
  torch::Tensor last_hidden_state;           // [B, Q, D] the query output (no final norm)
};

class Blip2QFormerModelImpl : public torch::nn::Module {
 public:
  explicit Blip2QFormerModelImpl(const Blip2QFormerConfig& config);
  // query_embeds: [B, Q, D]; image_embeds: [B, T, Dv].
  QFormerOutputs forward(const torch::Tensor& query_embeds, const torch::Tensor& image_embeds,
                         bool keep_stages = false);

  torch::nn::LayerNorm layernorm{nullptr};
  QFormerEncoder encoder{nullptr};
};
TORCH_MODULE(Blip2QFormerModel);

}  // namespace gligen::nets
