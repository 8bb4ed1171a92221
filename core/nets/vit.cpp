#include "core/nets/vit.h"

#include <cmath>

#include "core/nets/hf_activation.h"
#include "core/util/error.h"

namespace gligen::nets {
namespace {

torch::nn::LayerNorm vision_layer_norm(const Blip2VisionConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

}  // namespace

Blip2VisionEmbeddingsImpl::Blip2VisionEmbeddingsImpl(const Blip2VisionConfig& c) {
  class_embedding = register_parameter("class_embedding", torch::empty({1, 1, c.hidden_size}));
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.hidden_size, c.patch_size).stride(c.patch_size).bias(true)));
  position_embedding = register_parameter("position_embedding", torch::empty({1, c.num_patches() + 1, c.hidden_size}));
}

torch::Tensor Blip2VisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  // pixel_values: [B, 3, S, S] -> patches [B, D, S/P, S/P] -> [B, N, D]
  const int64_t b = pixel_values.size(0);
  auto patches = patch_embedding->forward(pixel_values.to(patch_embedding->weight.scalar_type()));
  patches = patches.flatten(2).transpose(1, 2);
  auto cls = class_embedding.expand({b, 1, -1}).to(patches.scalar_type());
  auto x = torch::cat({cls, patches}, 1);  // [B, 1 + N, D]
  return x + position_embedding.narrow(1, 0, x.size(1)).to(x.scalar_type());
}

Blip2VisionAttentionImpl::Blip2VisionAttentionImpl(const Blip2VisionConfig& c)
    : num_heads_(c.num_attention_heads), head_dim_(c.head_dim()), scale_(std::pow(double(c.head_dim()), -0.5)) {
  qkv = register_module("qkv", BareLinear(c.hidden_size, 3 * c.hidden_size, c.qkv_bias));
  projection = register_module("projection", BareLinear(c.hidden_size, c.hidden_size));
}

torch::Tensor Blip2VisionAttentionImpl::forward(const torch::Tensor& x) {
  // x: [B, T, D] -> qkv [B, T, 3, H, Dh] -> [3, B, H, T, Dh]
  const int64_t b = x.size(0), t = x.size(1);
  auto mixed = qkv->forward(x).reshape({b, t, 3, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  auto q = mixed[0], k = mixed[1], v = mixed[2];
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * scale_;  // [B, H, T, T]
  auto probs = torch::softmax(scores, -1);
  auto ctx = torch::matmul(probs, v).permute({0, 2, 1, 3}).reshape({b, t, num_heads_ * head_dim_});
  return projection->forward(ctx);
}

Blip2VisionMlpImpl::Blip2VisionMlpImpl(const Blip2VisionConfig& c)
    : activation_(hf_activation_from_name(c.hidden_act, "BLIP-2 vision_config hidden_act")) {
  fc1 = register_module("fc1", BareLinear(c.hidden_size, c.intermediate_size));
  fc2 = register_module("fc2", BareLinear(c.intermediate_size, c.hidden_size));
}

torch::Tensor Blip2VisionMlpImpl::forward(const torch::Tensor& x) {
  // [B, T, D] -> [B, T, I] -> [B, T, D]
  return fc2->forward(apply_hf_activation(activation_, fc1->forward(x)));
}

Blip2VisionLayerImpl::Blip2VisionLayerImpl(const Blip2VisionConfig& c) {
  self_attn = register_module("self_attn", Blip2VisionAttention(c));
  layer_norm1 = register_module("layer_norm1", vision_layer_norm(c));
  mlp = register_module("mlp", Blip2VisionMlp(c));
  layer_norm2 = register_module("layer_norm2", vision_layer_norm(c));
}

torch::Tensor Blip2VisionLayerImpl::forward(const torch::Tensor& x) {
  auto h = x + self_attn->forward(layer_norm1->forward(x));
  return h + mlp->forward(layer_norm2->forward(h));
}

Blip2VisionEncoderImpl::Blip2VisionEncoderImpl(const Blip2VisionConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(Blip2VisionLayer(c));
}

torch::Tensor Blip2VisionEncoderImpl::forward(torch::Tensor x, std::vector<torch::Tensor>* layer_outputs) {
  for (const auto& layer : *layers) {
    x = layer->as<Blip2VisionLayer>()->forward(x);
    if (layer_outputs) layer_outputs->push_back(x);
  }
  return x;
}

Blip2VisionModelImpl::Blip2VisionModelImpl(const Blip2VisionConfig& c) : config_(c) {
  embeddings = register_module("embeddings", Blip2VisionEmbeddings(c));
  encoder = register_module("encoder", Blip2VisionEncoder(c));
  post_layernorm = register_module("post_layernorm", vision_layer_norm(c));
}

Blip2VisionOutput Blip2VisionModelImpl::forward(const torch::Tensor& pixel_values, bool keep_stages) {
  const int64_t s = config_.image_size;
  if (pixel_values.dim() != 4 || pixel_values.size(1) != 3 || pixel_values.size(2) != s || pixel_values.size(3) != s) {
    throw Error("BLIP-2 vision input must be [batch, 3, " + std::to_string(s) + ", " + std::to_string(s) +
                "] pixel values; preprocess images with the model's image processor");
  }
  Blip2VisionOutput out;
  auto x = embeddings->forward(pixel_values);  // [B, T, D]
  if (keep_stages) out.embeddings = x;
  x = encoder->forward(x, keep_stages ? &out.layer_outputs : nullptr);
  out.last_hidden_state = post_layernorm->forward(x);
  return out;
}

}  // namespace gligen::nets
