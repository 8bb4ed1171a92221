// transformers' CLIPTextModel (v4.38): the text tower of CLIP that Stable Diffusion 1.x uses as
// its text encoder and GLIGEN uses to embed box phrases.
//
// Modules are registered under the transformers attribute names, so checkpoint keys equal
// named_parameters() with no renaming:
//   text_model.embeddings.{token_embedding, position_embedding}.weight
//   text_model.encoder.layers.N.{self_attn.{k,v,q,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}.{weight,bias}
//   text_model.final_layer_norm.{weight,bias}
// transformers' `position_ids` buffer is not a module entry here (positions are 0..T-1, made in
// forward); loaders drop that key, which older checkpoints still carry.
#pragma once
#include <torch/torch.h>

#include <set>
#include <string>

#include "core/nets/hf_activation.h"
#include "core/nets/clip_config.h"
#include "core/util/mapped_file.h"

namespace gligen::nets {

struct CLIPTextOutput {
  torch::Tensor last_hidden_state;  // [B, T, D], after final_layer_norm
  torch::Tensor pooler_output;      // [B, D], last_hidden_state at the eos position (no projection)
};

// Multi-head self-attention. Scores get the additive causal mask, then the additive padding mask.
class CLIPAttentionImpl : public torch::nn::Module {
 public:
  explicit CLIPAttentionImpl(const CLIPTextConfig& config);
  // x: [B, T, D]; causal_mask: [T, T] additive; padding_mask: [B, 1, 1, T] additive or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& causal_mask, const torch::Tensor& padding_mask);

  torch::nn::Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t num_heads_;
  int64_t head_dim_;
  double scale_;
};
TORCH_MODULE(CLIPAttention);

class CLIPMLPImpl : public torch::nn::Module {
 public:
  explicit CLIPMLPImpl(const CLIPTextConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  HfActivation activation_;
};
TORCH_MODULE(CLIPMLP);

// Pre-norm transformer layer: x + attn(ln1(x)), then x + mlp(ln2(x)).
class CLIPEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit CLIPEncoderLayerImpl(const CLIPTextConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& causal_mask, const torch::Tensor& padding_mask);

  CLIPAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr};
  CLIPMLP mlp{nullptr};
  torch::nn::LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

class CLIPEncoderImpl : public torch::nn::Module {
 public:
  explicit CLIPEncoderImpl(const CLIPTextConfig& config);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& causal_mask, const torch::Tensor& padding_mask);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(CLIPEncoder);

class CLIPTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit CLIPTextEmbeddingsImpl(const CLIPTextConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids);  // [B, T] int64 -> [B, T, D]

  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(CLIPTextEmbeddings);

class CLIPTextTransformerImpl : public torch::nn::Module {
 public:
  explicit CLIPTextTransformerImpl(const CLIPTextConfig& config);
  CLIPTextOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});

  CLIPTextEmbeddings embeddings{nullptr};
  CLIPEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};

 private:
  CLIPTextConfig config_;
};
TORCH_MODULE(CLIPTextTransformer);

class CLIPTextModelImpl : public torch::nn::Module {
 public:
  explicit CLIPTextModelImpl(const CLIPTextConfig& config);

  // input_ids: [B, T] integer ids, T <= max_position_embeddings. attention_mask: [B, T], 1 for
  // real tokens and 0 for padding, or undefined (no padding mask; the causal mask always applies).
  // Ids outside the vocabulary or too long a sequence throw gligen::Error.
  CLIPTextOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});

  const CLIPTextConfig& config() const { return config_; }

  CLIPTextTransformer text_model{nullptr};

 private:
  CLIPTextConfig config_;
};
TORCH_MODULE(CLIPTextModel);

// Checkpoint keys that are not parameters and are dropped on load.
const std::set<std::string>& clip_text_ignored_keys();

// Reads `<text_encoder_dir>/config.json` and the weights, loads them strictly, moves the model to
// `device` / `dtype` and puts it in eval mode. Throws gligen::Error naming the folder on any problem.
// `mapping`: how the weight files are mapped (ReadOnly lets io::release_mapped_weights drop them).
CLIPTextModel load_clip_text_model(const std::string& text_encoder_dir, torch::Device device = torch::kCPU,
                                   torch::ScalarType dtype = torch::kFloat32,
                                   MapAccess mapping = MapAccess::CopyOnWrite);

}  // namespace gligen::nets
