#include "core/nets/t5.h"

#include "core/nets/dtype_limits.h"

#include <cmath>
#include <limits>

#include "core/nets/hf_activation.h"
#include "core/util/error.h"

namespace gligen::nets {
namespace {

// T5Block's float16 guard: clamp to the largest finite value (minus 1000 once an inf appeared).
torch::Tensor clamp_fp16(const torch::Tensor& x) {
  if (x.scalar_type() != torch::kFloat16) return x;
  const double max = 65504.0;
  const double limit = torch::isinf(x).any().item<bool>() ? max - 1000.0 : max;
  return torch::clamp(x, -limit, limit);
}

BareLinear no_bias(int64_t in, int64_t out) { return BareLinear(in, out, /*with_bias=*/false); }

}  // namespace

torch::Tensor t5_relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                          int64_t num_buckets, int64_t max_distance) {
  auto rel = relative_position.to(torch::kLong);
  auto buckets = torch::zeros_like(rel);
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + rel.gt(0).to(torch::kLong) * num_buckets;
    rel = rel.abs();
  } else {
    rel = -torch::min(rel, torch::zeros_like(rel));
  }
  // Half of the buckets are exact distances; the rest grow logarithmically up to max_distance.
  const int64_t max_exact = num_buckets / 2;
  auto is_small = rel.lt(max_exact);
  // Same float32 steps as transformers (log of float32, divided by a Python float).
  auto large = torch::log(rel.to(torch::kFloat) / max_exact) /
               std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
               static_cast<double>(num_buckets - max_exact);
  auto large_idx = (large.to(torch::kLong) + max_exact).clamp_max(num_buckets - 1);
  return buckets + torch::where(is_small, rel, large_idx);
}

T5LayerNormImpl::T5LayerNormImpl(int64_t d_model, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({d_model}));
}

torch::Tensor T5LayerNormImpl::forward(const torch::Tensor& x) {
  // x: [..., D]; the variance is computed in float32 whatever x's dtype.
  auto variance = x.to(torch::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  auto h = x * torch::rsqrt(variance + eps_);
  if (weight.scalar_type() == torch::kFloat16 || weight.scalar_type() == torch::kBFloat16)
    h = h.to(weight.scalar_type());
  return weight * h;
}

T5AttentionImpl::T5AttentionImpl(const T5Config& c, bool has_relative_attention_bias, bool bidirectional)
    : num_heads_(c.num_heads),
      d_kv_(c.d_kv),
      num_buckets_(c.relative_attention_num_buckets),
      max_distance_(c.relative_attention_max_distance),
      bidirectional_(bidirectional) {
  q = register_module("q", no_bias(c.d_model, c.inner_dim()));
  k = register_module("k", no_bias(c.d_model, c.inner_dim()));
  v = register_module("v", no_bias(c.d_model, c.inner_dim()));
  o = register_module("o", no_bias(c.inner_dim(), c.d_model));
  if (has_relative_attention_bias) {
    relative_attention_bias =
        register_module("relative_attention_bias", BareEmbedding(c.relative_attention_num_buckets, c.num_heads));
  }
}

T5KeyValue T5AttentionImpl::project_kv(const torch::Tensor& source) {
  // source: [B, T, D] -> [B, H, T, d_kv]
  auto heads = [&](const torch::Tensor& y) {
    return y.view({y.size(0), y.size(1), num_heads_, d_kv_}).transpose(1, 2);
  };
  return {heads(k->forward(source)), heads(v->forward(source))};
}

torch::Tensor T5AttentionImpl::attend(const torch::Tensor& x, const T5KeyValue& kv,
                                      const torch::Tensor& position_bias) {
  // x: [B, Tq, D] -> q [B, H, Tq, d_kv]; no 1/sqrt(d) scaling in T5.
  const int64_t b = x.size(0), tq = x.size(1);
  auto qh = q->forward(x).view({b, tq, num_heads_, d_kv_}).transpose(1, 2);
  auto scores = torch::matmul(qh, kv.k.transpose(3, 2));  // [B, H, Tq, Tk]
  if (position_bias.defined()) scores = scores + position_bias;
  auto probs = torch::softmax(scores.to(torch::kFloat), -1).to(scores.scalar_type());
  auto ctx = torch::matmul(probs, kv.v).transpose(1, 2).contiguous().view({b, tq, num_heads_ * d_kv_});
  return o->forward(ctx);  // [B, Tq, D]
}

torch::Tensor T5AttentionImpl::compute_bias(int64_t first_query, int64_t q_len, int64_t k_len,
                                            const torch::Device& device) {
  TORCH_CHECK(!relative_attention_bias.is_empty(), "compute_bias needs the relative attention bias table");
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto context = torch::arange(first_query, first_query + q_len, opts).unsqueeze(1);  // [q, 1]
  auto memory = torch::arange(k_len, opts).unsqueeze(0);                              // [1, k]
  auto bucket = t5_relative_position_bucket(memory - context, bidirectional_, num_buckets_, max_distance_);
  auto values = relative_attention_bias->forward(bucket);  // [q, k, H]
  return values.permute({2, 0, 1}).unsqueeze(0);           // [1, H, q, k]
}

T5LayerSelfAttentionImpl::T5LayerSelfAttentionImpl(const T5Config& c, bool has_relative_attention_bias,
                                                   bool bidirectional) {
  SelfAttention = register_module("SelfAttention", T5Attention(c, has_relative_attention_bias, bidirectional));
  layer_norm = register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon));
}

torch::Tensor T5LayerSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& position_bias,
                                                T5KeyValue* cache) {
  auto normed = layer_norm->forward(x);
  auto kv = SelfAttention->project_kv(normed);
  if (cache) {
    if (cache->k.defined()) {
      kv.k = torch::cat({cache->k, kv.k}, 2);
      kv.v = torch::cat({cache->v, kv.v}, 2);
    }
    *cache = kv;
  }
  return x + SelfAttention->attend(normed, kv, position_bias);
}

T5LayerCrossAttentionImpl::T5LayerCrossAttentionImpl(const T5Config& c) {
  EncDecAttention = register_module("EncDecAttention", T5Attention(c, false, true));
  layer_norm = register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon));
}

torch::Tensor T5LayerCrossAttentionImpl::forward(const torch::Tensor& x, const T5KeyValue& encoder_kv) {
  // Cross-attention has no position bias (transformers adds zeros) and, with the all-ones
  // encoder mask BLIP-2 passes, no mask.
  return x + EncDecAttention->attend(layer_norm->forward(x), encoder_kv, torch::Tensor());
}

T5DenseActDenseImpl::T5DenseActDenseImpl(const T5Config& c)
    : activation_(hf_activation_from_name(c.dense_act_fn, "T5 text_config dense_act_fn")), gated_(c.is_gated_act) {
  if (gated_) {
    wi_0 = register_module("wi_0", no_bias(c.d_model, c.d_ff));
    wi_1 = register_module("wi_1", no_bias(c.d_model, c.d_ff));
  } else {
    wi = register_module("wi", no_bias(c.d_model, c.d_ff));
  }
  wo = register_module("wo", no_bias(c.d_ff, c.d_model));
}

torch::Tensor T5DenseActDenseImpl::forward(const torch::Tensor& x) {
  // x: [B, T, D] -> [B, T, d_ff] -> [B, T, D]
  torch::Tensor h = gated_ ? apply_hf_activation(activation_, wi_0->forward(x)) * wi_1->forward(x)
                           : apply_hf_activation(activation_, wi->forward(x));
  if (h.scalar_type() != wo->weight.scalar_type()) h = h.to(wo->weight.scalar_type());
  return wo->forward(h);
}

T5LayerFFImpl::T5LayerFFImpl(const T5Config& c) {
  DenseReluDense = register_module("DenseReluDense", T5DenseActDense(c));
  layer_norm = register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon));
}

torch::Tensor T5LayerFFImpl::forward(const torch::Tensor& x) {
  return x + DenseReluDense->forward(layer_norm->forward(x));
}

T5BlockImpl::T5BlockImpl(const T5Config& c, bool is_decoder, bool has_relative_attention_bias) {
  layer = register_module("layer", torch::nn::ModuleList());
  self_attention = T5LayerSelfAttention(c, has_relative_attention_bias, /*bidirectional=*/!is_decoder);
  layer->push_back(self_attention);
  if (is_decoder) {
    cross_attention = T5LayerCrossAttention(c);
    layer->push_back(cross_attention);
  }
  feed_forward = T5LayerFF(c);
  layer->push_back(feed_forward);
}

torch::Tensor T5BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& position_bias, T5KeyValue* self_cache,
                                   const T5KeyValue* encoder_kv) {
  // x: [B, T, D]
  auto h = clamp_fp16(self_attention->forward(x, position_bias, self_cache));
  if (cross_attention) {
    TORCH_CHECK(encoder_kv != nullptr, "a T5 decoder block needs the encoder's keys and values");
    h = clamp_fp16(cross_attention->forward(h, *encoder_kv));
  }
  return clamp_fp16(feed_forward->forward(h));
}

T5StackImpl::T5StackImpl(const T5Config& c, bool is_decoder) : is_decoder_(is_decoder) {
  block = register_module("block", torch::nn::ModuleList());
  const int64_t n = is_decoder ? c.num_decoder_layers : c.num_layers;
  for (int64_t i = 0; i < n; ++i) block->push_back(T5Block(c, is_decoder, /*has_relative_attention_bias=*/i == 0));
  final_layer_norm = register_module("final_layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon));
}

torch::Tensor T5StackImpl::encode(const torch::Tensor& inputs_embeds, std::vector<torch::Tensor>* block_outputs,
                                  torch::Tensor* position_bias) {
  TORCH_CHECK(!is_decoder_, "encode() is for the T5 encoder stack");
  const int64_t t = inputs_embeds.size(1);
  auto first = block[0]->as<T5Block>();
  // Bidirectional bias [1, H, T, T], shared by every layer (all-ones mask: nothing added).
  auto bias = first->self_attention->SelfAttention->compute_bias(0, t, t, inputs_embeds.device())
                  .to(inputs_embeds.scalar_type());
  if (position_bias) *position_bias = bias;
  auto x = inputs_embeds;
  for (const auto& b : *block) {
    x = b->as<T5Block>()->forward(x, bias, nullptr, nullptr);
    if (block_outputs) block_outputs->push_back(x);
  }
  return final_layer_norm->forward(x);
}

T5DecoderCache T5StackImpl::start_cache(const torch::Tensor& encoder_hidden) {
  TORCH_CHECK(is_decoder_, "start_cache() is for the T5 decoder stack");
  T5DecoderCache cache;
  for (const auto& b : *block) {
    auto blk = b->as<T5Block>();
    cache.cross_attention.push_back(blk->cross_attention->EncDecAttention->project_kv(encoder_hidden));
    cache.self_attention.emplace_back();
  }
  return cache;
}

torch::Tensor T5StackImpl::decode(const torch::Tensor& inputs_embeds, T5DecoderCache& cache,
                                  std::vector<torch::Tensor>* block_outputs) {
  TORCH_CHECK(is_decoder_, "decode() is for the T5 decoder stack");
  TORCH_CHECK(cache.cross_attention.size() == block->size(), "decoder cache was not started with start_cache()");
  const int64_t t = inputs_embeds.size(1), past = cache.length, total = past + t;
  auto first = block[0]->as<T5Block>();
  // Unidirectional bias of the new positions against every position so far, plus the causal mask
  // (queries see keys at their own position and before). [1, H, T, total]
  auto bias = first->self_attention->SelfAttention->compute_bias(past, t, total, inputs_embeds.device())
                  .to(inputs_embeds.scalar_type());
  if (t > 1) {
    auto q_pos = torch::arange(past, total, torch::TensorOptions().dtype(torch::kLong).device(inputs_embeds.device()));
    auto k_pos = torch::arange(total, q_pos.options());
    auto future = k_pos.unsqueeze(0).gt(q_pos.unsqueeze(1));  // [T, total]
    bias = bias + torch::zeros({t, total}, bias.options()).masked_fill(future, finfo_min(bias.scalar_type()));
  }
  auto x = inputs_embeds;
  for (size_t i = 0; i < block->size(); ++i) {
    x = block[i]->as<T5Block>()->forward(x, bias, &cache.self_attention[i], &cache.cross_attention[i]);
    if (block_outputs) block_outputs->push_back(x);
  }
  cache.length = total;
  return final_layer_norm->forward(x);
}

T5ForConditionalGenerationImpl::T5ForConditionalGenerationImpl(const T5Config& c) : config_(c) {
  shared = register_module("shared", BareEmbedding(c.vocab_size, c.d_model));
  encoder = register_module("encoder", T5Stack(c, false));
  decoder = register_module("decoder", T5Stack(c, true));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", no_bias(c.d_model, c.vocab_size));
}

torch::Tensor T5ForConditionalGenerationImpl::decoder_logits(const torch::Tensor& decoder_input_ids,
                                                             T5DecoderCache& cache,
                                                             std::vector<torch::Tensor>* block_outputs,
                                                             torch::Tensor* decoder_final) {
  // decoder_input_ids: [B, T] -> embeddings [B, T, D] (not scaled) -> [B, T, vocab]
  auto h = decoder->decode(shared->forward(decoder_input_ids), cache, block_outputs);
  if (decoder_final) *decoder_final = h;
  if (config_.tie_word_embeddings) {
    // T5's tied head: rescale by d_model**-0.5, then project with the shared embedding.
    return torch::matmul(h * std::pow(double(config_.d_model), -0.5), shared->weight.t());
  }
  return lm_head->forward(h);
}

std::set<std::string> t5_tied_aliases(const T5Config& config, const std::string& prefix) {
  std::set<std::string> keys{prefix + "encoder.embed_tokens.weight", prefix + "decoder.embed_tokens.weight"};
  if (config.tie_word_embeddings) keys.insert(prefix + "lm_head.weight");
  return keys;
}

}  // namespace gligen::nets
