// Multi-scale deformable attention (Zhu et al., Deformable DETR) as transformers' Grounding DINO
// (v4.40) computes it without the custom CUDA kernel: sampling offsets and level x point softmax
// weights from the query, bilinear sampling of every level with grid_sample (zeros padding,
// align_corners=False), weighted sum, output projection. Keys: sampling_offsets,
// attention_weights, value_proj, output_proj.
#pragma once
#include <torch/torch.h>

namespace gligen::detect {

// The PyTorch reference path (multi_scale_deformable_attention):
// value [B, S, heads, hd] (S = sum of H_l * W_l), spatial_shapes int64 [L, 2] (H, W) with the
// same values as `shapes`, sampling_locations [B, Q, heads, L, P, 2] in [0, 1] (x, y),
// attention_weights [B, Q, heads, L, P] -> [B, Q, heads * hd].
torch::Tensor multi_scale_deformable_attention(const torch::Tensor& value,
                                               const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                               const torch::Tensor& sampling_locations,
                                               const torch::Tensor& attention_weights);

class MultiscaleDeformableAttentionImpl : public torch::nn::Module {
 public:
  MultiscaleDeformableAttentionImpl(int64_t d_model, int64_t num_heads, int64_t num_levels, int64_t num_points);

  // hidden: [B, Q, D] queries (position_embeddings, when defined, is added to them);
  // encoder_hidden: [B, S, D] values; value_mask: [B, S] bool, true where valid (invalid values are
  // zeroed), or undefined; reference_points: [B, Q, L, 2] (points) or [B, Q, L, 4] (boxes cx, cy, w, h).
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& position_embeddings,
                        const torch::Tensor& encoder_hidden, const torch::Tensor& value_mask,
                        const torch::Tensor& reference_points, const std::vector<std::pair<int64_t, int64_t>>& shapes,
                        const torch::Tensor& spatial_shapes);

  torch::nn::Linear sampling_offsets{nullptr}, attention_weights{nullptr}, value_proj{nullptr}, output_proj{nullptr};

 private:
  int64_t d_model_, heads_, levels_, points_;
};
TORCH_MODULE(MultiscaleDeformableAttention);

}  // namespace gligen::detect
