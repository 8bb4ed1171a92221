// Swin Transformer (Liu et al. 2021) as transformers' SwinBackbone (v4.40) computes it, for
// Grounding DINO's image backbone; the window functions are free functions so other Swin
// checkpoints (RAM's official layout with a fused qkv) can reuse them with their own modules.
//
// Modules are registered under the transformers names, so the checkpoint keys of
// `<prefix>.model.` equal named_parameters():
//   embeddings.patch_embeddings.projection.{weight,bias}, embeddings.norm.{weight,bias}
//   encoder.layers.S.blocks.B.{layernorm_before, attention.self.{query,key,value,
//     relative_position_bias_table, relative_position_index}, attention.output.dense,
//     layernorm_after, intermediate.dense, output.dense}
//   encoder.layers.S.downsample.{reduction.weight, norm}          (every stage but the last)
//   hidden_states_norms.<stage>.{weight,bias}                      (one per out_features stage)
// relative_position_index is a buffer stored in the checkpoint (int64 [w*w, w*w]).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/nets/hf_activation.h"
#include "core/nets/swin_config.h"

namespace gligen::nets {

// [B, H, W, C] (H, W multiples of `window`) -> [B * H/w * W/w, w, w, C], windows in row-major order.
torch::Tensor swin_window_partition(const torch::Tensor& x, int64_t window);
// Inverse of swin_window_partition: [B * nH * nW, w, w, C] -> [B, H, W, C].
torch::Tensor swin_window_reverse(const torch::Tensor& windows, int64_t window, int64_t height, int64_t width);
// The pair-wise relative position index of a w x w window: int64 [w*w, w*w], values in
// [0, (2w-1)^2), as transformers and the official Swin compute it.
torch::Tensor swin_relative_position_index(int64_t window);
// The shifted-window attention mask of a padded [height, width] map: [nW, w*w, w*w] with 0 where
// two tokens come from the same region before the cyclic shift and -100 elsewhere (not -inf).
torch::Tensor swin_shift_attention_mask(int64_t height, int64_t width, int64_t window, int64_t shift,
                                        const torch::TensorOptions& options);

class SwinPatchEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit SwinPatchEmbeddingsImpl(const SwinConfig& config);
  // [B, C, H, W] -> [B, (H/p)*(W/p), D]; the input is zero-padded right/bottom to multiples of the patch.
  torch::Tensor forward(const torch::Tensor& pixel_values, int64_t& out_height, int64_t& out_width);
  torch::nn::Conv2d projection{nullptr};

 private:
  int64_t patch_h_, patch_w_, channels_;
};
TORCH_MODULE(SwinPatchEmbeddings);

class SwinEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit SwinEmbeddingsImpl(const SwinConfig& config);
  torch::Tensor forward(const torch::Tensor& pixel_values, int64_t& out_height, int64_t& out_width);
  SwinPatchEmbeddings patch_embeddings{nullptr};
  torch::nn::LayerNorm norm{nullptr};  // eps 1e-5 (transformers' default, not config.layer_norm_eps)
};
TORCH_MODULE(SwinEmbeddings);

// Window self-attention with a relative position bias ("attention.self").
class SwinSelfAttentionImpl : public torch::nn::Module {
 public:
  SwinSelfAttentionImpl(const SwinConfig& config, int64_t dim, int64_t num_heads);
  // windows: [B*nW, w*w, C]; mask: [nW, w*w, w*w] additive or undefined.
  torch::Tensor forward(const torch::Tensor& windows, const torch::Tensor& mask);

  torch::Tensor relative_position_bias_table;  // [(2w-1)^2, heads]
  torch::Tensor relative_position_index;       // buffer, int64 [w*w, w*w]
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};

 private:
  int64_t num_heads_, head_dim_, window_;
};
TORCH_MODULE(SwinSelfAttention);

// One Swin block ("layers.S.blocks.B"): pre-norm shifted-window attention and pre-norm MLP.
class SwinLayerImpl : public torch::nn::Module {
 public:
  SwinLayerImpl(const SwinConfig& config, int64_t dim, int64_t num_heads, int64_t shift_size);
  // x: [B, H*W, C]. With always_partition (SwinBackbone), the configured window and shift apply
  // whatever the map size (the map is zero-padded to whole windows after the norm; padded tokens
  // are not masked). Without it, a map no larger than the window is one unshifted window, as
  // SwinModel and the official Swin do.
  torch::Tensor forward(const torch::Tensor& x, int64_t height, int64_t width, bool always_partition);

  torch::nn::LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  SwinSelfAttention attention_self{nullptr};    // registered as "attention.self"
  torch::nn::Linear attention_output{nullptr};  // "attention.output.dense"
  torch::nn::Linear intermediate{nullptr};      // "intermediate.dense"
  torch::nn::Linear output{nullptr};            // "output.dense"

 private:
  int64_t window_, shift_;
  HfActivation act_;
};
TORCH_MODULE(SwinLayer);

// Patch merging ("downsample"): 2x2 neighbours concatenated [x00, x10, x01, x11], LayerNorm, Linear.
class SwinPatchMergingImpl : public torch::nn::Module {
 public:
  explicit SwinPatchMergingImpl(int64_t dim);
  // [B, H*W, C] -> [B, ceil(H/2)*ceil(W/2), 2C]; odd sizes are zero-padded first.
  torch::Tensor forward(const torch::Tensor& x, int64_t height, int64_t width);
  torch::nn::Linear reduction{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(SwinPatchMerging);

class SwinStageImpl : public torch::nn::Module {
 public:
  SwinStageImpl(const SwinConfig& config, int64_t dim, int64_t depth, int64_t num_heads, bool downsample);
  torch::nn::ModuleList blocks{nullptr};
  SwinPatchMerging downsample{nullptr};  // null for the last stage
};
TORCH_MODULE(SwinStage);

// transformers' SwinBackbone: feature maps of the configured out_features stages, each through
// its hidden_states_norms LayerNorm, as [B, C, H, W].
class SwinBackboneImpl : public torch::nn::Module {
 public:
  explicit SwinBackboneImpl(const SwinConfig& config);

  // Called with intermediate results when set: ("embeddings", [B, N, C]).
  using Probe = std::function<void(const std::string&, const torch::Tensor&)>;
  std::vector<torch::Tensor> forward(const torch::Tensor& pixel_values, const Probe& probe = nullptr);

  const SwinConfig& config() const { return config_; }
  // Channels of each returned feature map.
  std::vector<int64_t> channels() const;

  SwinEmbeddings embeddings{nullptr};
  std::vector<SwinStage> stages;            // registered as "encoder.layers.S"
  std::vector<torch::nn::LayerNorm> norms;  // "hidden_states_norms.<stage>", one per out_features entry

 private:
  SwinConfig config_;
};
TORCH_MODULE(SwinBackbone);

}  // namespace gligen::nets
