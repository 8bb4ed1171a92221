// The Swin Transformer image encoder of RAM (recognize-anything's `visual_encoder`): the official
// Swin layout as timm 0.4.12 names it (a fused qkv projection, norm1 / norm2, mlp.fc1 / fc2),
// which differs from the transformers layout of core/nets/swin.h but reuses its window functions.
//
// Parameter names (relative to `visual_encoder.`):
//   patch_embed.proj.{weight,bias}, patch_embed.norm.{weight,bias}
//   layers.S.blocks.B.{norm1, attn.qkv, attn.proj, attn.relative_position_bias_table, norm2,
//     mlp.fc1, mlp.fc2}
//   layers.S.downsample.{norm, reduction.weight}                   (every stage but the last)
//   norm.{weight,bias}
// The checkpoint also stores each block's attn.relative_position_index and (shifted blocks)
// attn_mask; RAM's loader drops them and recomputes them, so they are not module entries here:
// they are computed at construction and kept as plain tensors.
//
// The output is RAM's: the final LayerNorm's tokens with their mean prepended,
// [B, 1 + (H/32)*(W/32), C_last].
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace gligen::nets {

// configs/swin/config_swinL_<res>.json of recognize-anything (the keys its code reads), plus the
// constants fixed in its code.
struct RamSwinConfig {
  int64_t vision_width = 1536;  // channels of the last stage (= embed_dim * 2^(stages-1))
  int64_t image_res = 384;      // square input size
  int64_t window_size = 12;
  int64_t embed_dim = 192;
  std::vector<int64_t> depths{2, 2, 18, 2};
  std::vector<int64_t> num_heads{6, 12, 24, 48};
  // Fixed in RAM's code.
  int64_t patch_size = 4;
  double mlp_ratio = 4.0;

  int64_t num_stages() const { return static_cast<int64_t>(depths.size()); }
  int64_t stage_channels(int64_t stage) const { return embed_dim << stage; }
  int64_t stage_resolution(int64_t stage) const { return (image_res / patch_size) >> stage; }
  // The window a stage's blocks use: the configured one, or the whole map when the map is no
  // larger (timm's rule; then the blocks do not shift).
  int64_t stage_window(int64_t stage) const;
  bool stage_shifts(int64_t stage) const { return stage_resolution(stage) > window_size; }
  // Throws gligen::Error naming `source` for sizes the network cannot be built with.
  void validate(const std::string& source) const;
};

// W-MSA / SW-MSA with a relative position bias and a fused qkv projection ("attn").
class RamWindowAttentionImpl : public torch::nn::Module {
 public:
  RamWindowAttentionImpl(int64_t dim, int64_t window, int64_t num_heads);
  // windows: [B*nW, w*w, C]; mask: [nW, w*w, w*w] additive or undefined.
  torch::Tensor forward(const torch::Tensor& windows, const torch::Tensor& mask);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::Tensor relative_position_bias_table;  // parameter [(2w-1)^2, heads]
  torch::Tensor relative_position_index;       // computed, not a module entry: int64 [w*w, w*w]

 private:
  int64_t num_heads_, head_dim_, window_;
  double scale_;
};
TORCH_MODULE(RamWindowAttention);

class RamSwinBlockImpl : public torch::nn::Module {
 public:
  RamSwinBlockImpl(int64_t dim, int64_t resolution, int64_t window, int64_t shift, int64_t num_heads, double mlp_ratio);
  // x: [B, res*res, C]
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  RamWindowAttention attn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};  // "mlp.fc1", "mlp.fc2"
  torch::Tensor attn_mask;                       // computed, not a module entry; undefined without shift

  int64_t window() const { return window_; }
  int64_t shift() const { return shift_; }

 private:
  int64_t resolution_, window_, shift_;
};
TORCH_MODULE(RamSwinBlock);

// PatchMerging: 2x2 neighbours concatenated in the order (0,0), (1,0), (0,1), (1,1) (row, col),
// LayerNorm(4C), Linear(4C -> 2C) without bias.
class RamPatchMergingImpl : public torch::nn::Module {
 public:
  RamPatchMergingImpl(int64_t dim, int64_t resolution);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear reduction{nullptr};

 private:
  int64_t resolution_;
};
TORCH_MODULE(RamPatchMerging);

class RamSwinTransformerImpl : public torch::nn::Module {
 public:
  explicit RamSwinTransformerImpl(const RamSwinConfig& config);

  // Called with intermediate results when set, under the reference's module paths relative to
  // the encoder: "patch_embed", "layers.S.blocks.B", "layers.S" (after the patch merging).
  using Probe = std::function<void(const std::string&, const torch::Tensor&)>;
  // pixel_values: [B, 3, image_res, image_res] -> [B, 1 + L, vision_width], token 0 the mean.
  torch::Tensor forward(const torch::Tensor& pixel_values, const Probe& probe = nullptr);

  // Moves the computed (non-module) index and mask tensors along with the parameters.
  void to_device(torch::Device device, torch::ScalarType dtype);

  const RamSwinConfig& config() const { return config_; }

  torch::nn::Conv2d patch_proj{nullptr};          // "patch_embed.proj"
  torch::nn::LayerNorm patch_norm{nullptr};       // "patch_embed.norm"
  std::vector<std::vector<RamSwinBlock>> blocks;  // "layers.S.blocks.B"
  std::vector<RamPatchMerging> downsample;        // "layers.S.downsample" (null for the last stage)
  torch::nn::LayerNorm norm{nullptr};

 private:
  RamSwinConfig config_;
};
TORCH_MODULE(RamSwinTransformer);

}  // namespace gligen::nets
