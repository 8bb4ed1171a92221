// BLIP-2's image encoder (transformers' Blip2VisionModel, v4.40): an EVA ViT-g style
// pre-LayerNorm vision transformer with a fused qkv projection.
//
// Modules are registered under transformers' attribute names, so the keys under
// "vision_model." of a BLIP-2 checkpoint equal named_parameters():
//   embeddings.{class_embedding, position_embedding, patch_embedding.{weight,bias}}
//   encoder.layers.N.{self_attn.{qkv, projection}, layer_norm1, mlp.{fc1, fc2}, layer_norm2}.{weight,bias}
//   post_layernorm.{weight,bias}
// qkv's bias is cat(q_bias, 0, v_bias) in transformers; checkpoints store it whole (zeros in the
// k part) and it is used as stored.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/nets/hf_activation.h"
#include "core/nets/bare_layers.h"
#include "core/nets/blip2_config.h"

namespace gligen::nets {

class Blip2VisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionEmbeddingsImpl(const Blip2VisionConfig& config);
  // pixel_values: [B, 3, S, S] -> [B, 1 + (S/P)^2, D] (class token first, position embeddings added)
  torch::Tensor forward(const torch::Tensor& pixel_values);

  torch::Tensor class_embedding, position_embedding;  // [1, 1, D], [1, 1 + N, D]
  torch::nn::Conv2d patch_embedding{nullptr};
};
TORCH_MODULE(Blip2VisionEmbeddings);

class Blip2VisionAttentionImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionAttentionImpl(const Blip2VisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]

  BareLinear qkv{nullptr}, projection{nullptr};

 private:
  int64_t num_heads_, head_dim_;
  double scale_;
};
TORCH_MODULE(Blip2VisionAttention);

class Blip2VisionMlpImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionMlpImpl(const Blip2VisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]

  BareLinear fc1{nullptr}, fc2{nullptr};

 private:
  HfActivation activation_;
};
TORCH_MODULE(Blip2VisionMlp);

// x + attn(ln1 x), then x + mlp(ln2 x).
class Blip2VisionLayerImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionLayerImpl(const Blip2VisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]

  Blip2VisionAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr};
  Blip2VisionMlp mlp{nullptr};
  torch::nn::LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(Blip2VisionLayer);

class Blip2VisionEncoderImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionEncoderImpl(const Blip2VisionConfig& config);
  // layer_outputs, when given, receives every layer's output.
  torch::Tensor forward(torch::Tensor x, std::vector<torch::Tensor>* layer_outputs = nullptr);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Blip2VisionEncoder);

struct Blip2VisionOutput {
  torch::Tensor embeddings;                  // [B, T, D] encoder input (only when stages are asked for)
  std::vector<torch::Tensor> layer_outputs;  // [B, T, D] each (only when stages are asked for)
  torch::Tensor last_hidden_state;           // [B, T, D] post_layernorm of every token: the image embeds
};

class Blip2VisionModelImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionModelImpl(const Blip2VisionConfig& config);
  // pixel_values: [B, 3, image_size, image_size]. The pooled CLS output is not computed (BLIP-2
  // captioning does not use it).
  Blip2VisionOutput forward(const torch::Tensor& pixel_values, bool keep_stages = false);

  const Blip2VisionConfig& config() const { return config_; }

  Blip2VisionEmbeddings embeddings{nullptr};
  Blip2VisionEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};

 private:
  Blip2VisionConfig config_;
};
TORCH_MODULE(Blip2VisionModel);

}  // namespace gligen::nets
