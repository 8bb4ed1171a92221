// T5 encoder-decoder (transformers' T5ForConditionalGeneration, v4.40; v1.1 / Flan-T5 layout):
// RMS LayerNorm without bias or mean, attention without 1/sqrt(d) scaling and without biases,
// relative position buckets (a table in block 0 of each stack, reused by every layer), gated or
// plain feed-forward, an untied or tied lm_head. The decoder keeps a key/value cache for
// incremental greedy decoding.
//
// Keys (under "language_model." in BLIP-2) equal named_parameters():
//   shared.weight, lm_head.weight (untied models only)
//   {encoder,decoder}.block.N.layer.0.SelfAttention.{q,k,v,o}.weight
//   {encoder,decoder}.block.0.layer.0.SelfAttention.relative_attention_bias.weight
//   decoder.block.N.layer.1.EncDecAttention.{q,k,v,o}.weight
//   {encoder,decoder}.block.N.layer.L.DenseReluDense.{wi_0,wi_1,wo | wi,wo}.weight
//   {encoder,decoder}.block.N.layer.L.layer_norm.weight, {encoder,decoder}.final_layer_norm.weight
// {encoder,decoder}.embed_tokens.weight are the same tensor as shared.weight in transformers and
// are not module entries here (t5_tied_aliases()).
#pragma once
#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

#include "core/nets/hf_activation.h"
#include "core/nets/bare_layers.h"
#include "core/nets/blip2_config.h"

namespace gligen::nets {

// transformers' T5Attention._relative_position_bucket, computed with the same float32 steps:
// relative_position (int64, key - query) -> bucket index (int64).
torch::Tensor t5_relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                          int64_t num_buckets, int64_t max_distance);

// w * x * rsqrt(mean(x^2) + eps), the mean taken in float32.
class T5LayerNormImpl : public torch::nn::Module {
 public:
  T5LayerNormImpl(int64_t d_model, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(T5LayerNorm);

// Keys and values of one attention, split into heads: [B, H, T, d_kv].
struct T5KeyValue {
  torch::Tensor k, v;
};

class T5AttentionImpl : public torch::nn::Module {
 public:
  T5AttentionImpl(const T5Config& config, bool has_relative_attention_bias, bool bidirectional);

  // source: [B, T, D] -> keys and values [B, H, T, d_kv].
  T5KeyValue project_kv(const torch::Tensor& source);
  // x: [B, Tq, D] queries attend to kv; position_bias: [1 or B, H, Tq, Tk] added to the scores
  // (undefined: none). -> [B, Tq, D]
  torch::Tensor attend(const torch::Tensor& x, const T5KeyValue& kv, const torch::Tensor& position_bias);
  // The relative-position bias of queries at positions first_query .. first_query + q_len - 1
  // against keys 0 .. k_len - 1: [1, H, q_len, k_len]. Needs has_relative_attention_bias.
  torch::Tensor compute_bias(int64_t first_query, int64_t q_len, int64_t k_len, const torch::Device& device);

  BareLinear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  BareEmbedding relative_attention_bias{nullptr};

 private:
  int64_t num_heads_, d_kv_;
  int64_t num_buckets_, max_distance_;
  bool bidirectional_;
};
TORCH_MODULE(T5Attention);

class T5LayerSelfAttentionImpl : public torch::nn::Module {
 public:
  T5LayerSelfAttentionImpl(const T5Config& config, bool has_relative_attention_bias, bool bidirectional);
  // x: [B, T, D]. With `cache` (decoder), the new keys/values are appended to it and attention
  // runs over all of them. -> [B, T, D] (residual added)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& position_bias, T5KeyValue* cache);

  T5Attention SelfAttention{nullptr};
  T5LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerSelfAttention);

class T5LayerCrossAttentionImpl : public torch::nn::Module {
 public:
  explicit T5LayerCrossAttentionImpl(const T5Config& config);
  // x: [B, T, D]; encoder_kv: EncDecAttention.project_kv(encoder output). -> [B, T, D]
  torch::Tensor forward(const torch::Tensor& x, const T5KeyValue& encoder_kv);

  T5Attention EncDecAttention{nullptr};
  T5LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerCrossAttention);

// wo(act(wi_0 x) * wi_1 x) when gated, wo(act(wi x)) otherwise. The hidden state is cast to wo's
// dtype first (transformers keeps wo in float32 when the rest is float16).
class T5DenseActDenseImpl : public torch::nn::Module {
 public:
  explicit T5DenseActDenseImpl(const T5Config& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]

  BareLinear wi{nullptr}, wi_0{nullptr}, wi_1{nullptr}, wo{nullptr};

 private:
  HfActivation activation_;
  bool gated_;
};
TORCH_MODULE(T5DenseActDense);

class T5LayerFFImpl : public torch::nn::Module {
 public:
  explicit T5LayerFFImpl(const T5Config& config);
  torch::Tensor forward(const torch::Tensor& x);  // x + ff(norm(x))

  T5DenseActDense DenseReluDense{nullptr};
  T5LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerFF);

// The decoder's per-layer caches: self-attention keys/values grow by one position per step;
// cross-attention keys/values are computed once from the encoder output.
struct T5DecoderCache {
  std::vector<T5KeyValue> self_attention;
  std::vector<T5KeyValue> cross_attention;
  int64_t length = 0;  // decoder positions already in the cache
};

class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(const T5Config& config, bool is_decoder, bool has_relative_attention_bias);
  // x: [B, T, D]. Decoder blocks need encoder_kv and may use self_cache.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& position_bias, T5KeyValue* self_cache,
                        const T5KeyValue* encoder_kv);

  torch::nn::ModuleList layer{nullptr};
  T5LayerSelfAttention self_attention{nullptr};
  T5LayerCrossAttention cross_attention{nullptr};  // decoder only
  T5LayerFF feed_forward{nullptr};
};
TORCH_MODULE(T5Block);

class T5StackImpl : public torch::nn::Module {
 public:
  T5StackImpl(const T5Config& config, bool is_decoder);

  // Encoder: inputs_embeds [B, T, D] -> final_layer_norm output [B, T, D]. block_outputs, when
  // given, receives each block's output; position_bias, the block-0 bias [1, H, T, T].
  torch::Tensor encode(const torch::Tensor& inputs_embeds, std::vector<torch::Tensor>* block_outputs = nullptr,
                       torch::Tensor* position_bias = nullptr);
  // Decoder: inputs_embeds [B, T, D] for positions cache.length .. cache.length + T - 1 (causal;
  // the cache must hold the cross-attention keys/values). Appends to the cache.
  torch::Tensor decode(const torch::Tensor& inputs_embeds, T5DecoderCache& cache,
                       std::vector<torch::Tensor>* block_outputs = nullptr);
  // A cache with the cross-attention keys/values of `encoder_hidden` [B, Te, D] and no positions.
  T5DecoderCache start_cache(const torch::Tensor& encoder_hidden);

  torch::nn::ModuleList block{nullptr};
  T5LayerNorm final_layer_norm{nullptr};

 private:
  bool is_decoder_;
};
TORCH_MODULE(T5Stack);

class T5ForConditionalGenerationImpl : public torch::nn::Module {
 public:
  explicit T5ForConditionalGenerationImpl(const T5Config& config);

  // Decoder logits for token ids [B, T] continuing `cache`: [B, T, vocab]. decoder_final, when
  // given, receives the final_layer_norm output [B, T, D] (before any tied-head rescale).
  torch::Tensor decoder_logits(const torch::Tensor& decoder_input_ids, T5DecoderCache& cache,
                               std::vector<torch::Tensor>* block_outputs = nullptr,
                               torch::Tensor* decoder_final = nullptr);

  const T5Config& config() const { return config_; }

  BareEmbedding shared{nullptr};
  T5Stack encoder{nullptr}, decoder{nullptr};
  BareLinear lm_head{nullptr};  // null when tie_word_embeddings (shared is the head)

 private:
  T5Config config_;
};
TORCH_MODULE(T5ForConditionalGeneration);

// Checkpoint keys that name shared.weight again (prefix "language_model." for BLIP-2, "" for a
// stand-alone T5), plus lm_head.weight for tied models.
std::set<std::string> t5_tied_aliases(const T5Config& config, const std::string& prefix);

}  // namespace gligen::nets
