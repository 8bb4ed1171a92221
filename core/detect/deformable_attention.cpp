#include "core/detect/deformable_attention.h"

namespace gligen::detect {

torch::Tensor multi_scale_deformable_attention(const torch::Tensor& value,
                                               const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                               const torch::Tensor& sampling_locations,
                                               const torch::Tensor& attention_weights) {
  const int64_t b = value.size(0), heads = value.size(2), hd = value.size(3);
  const int64_t q = sampling_locations.size(1), levels = sampling_locations.size(3),
                points = sampling_locations.size(4);
  std::vector<int64_t> sizes;
  for (auto [h, w] : shapes) sizes.push_back(h * w);
  auto value_list = value.split_with_sizes(sizes, 1);
  auto grids = 2 * sampling_locations - 1;
  std::vector<torch::Tensor> sampled;
  namespace F = torch::nn::functional;
  for (int64_t l = 0; l < levels; ++l) {
    const auto [h, w] = shapes[l];
    // [B, H*W, heads, hd] -> [B*heads, hd, H, W]
    auto v = value_list[l].flatten(2).transpose(1, 2).reshape({b * heads, hd, h, w});
    // [B, Q, heads, P, 2] -> [B*heads, Q, P, 2]
    auto g = grids.select(3, l).transpose(1, 2).flatten(0, 1);
    sampled.push_back(F::grid_sample(
        v, g, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false)));
  }
  // [B, Q, heads, L, P] -> [B*heads, 1, Q, L*P]
  auto weights = attention_weights.transpose(1, 2).reshape({b * heads, 1, q, levels * points});
  auto out = (torch::stack(sampled, -2).flatten(-2) * weights).sum(-1).view({b, heads * hd, q});
  return out.transpose(1, 2).contiguous();
}

MultiscaleDeformableAttentionImpl::MultiscaleDeformableAttentionImpl(int64_t d_model, int64_t num_heads,
                                                                     int64_t num_levels, int64_t num_points)
    : d_model_(d_model), heads_(num_heads), levels_(num_levels), points_(num_points) {
  sampling_offsets =
      register_module("sampling_offsets", torch::nn::Linear(d_model, num_heads * num_levels * num_points * 2));
  attention_weights =
      register_module("attention_weights", torch::nn::Linear(d_model, num_heads * num_levels * num_points));
  value_proj = register_module("value_proj", torch::nn::Linear(d_model, d_model));
  output_proj = register_module("output_proj", torch::nn::Linear(d_model, d_model));
}

torch::Tensor MultiscaleDeformableAttentionImpl::forward(
    const torch::Tensor& hidden_in, const torch::Tensor& position_embeddings, const torch::Tensor& encoder_hidden,
    const torch::Tensor& value_mask, const torch::Tensor& reference_points,
    const std::vector<std::pair<int64_t, int64_t>>& shapes, const torch::Tensor& spatial_shapes) {
  auto hidden = position_embeddings.defined() ? hidden_in + position_embeddings : hidden_in;
  const int64_t b = hidden.size(0), q = hidden.size(1), s = encoder_hidden.size(1);
  int64_t total = 0;
  for (auto [h, w] : shapes) total += h * w;
  TORCH_CHECK(total == s, "deformable attention: spatial shapes do not match the sequence length");

  auto value = value_proj->forward(encoder_hidden);
  if (value_mask.defined()) value = value.masked_fill(value_mask.logical_not().unsqueeze(-1), 0.0);
  value = value.view({b, s, heads_, d_model_ / heads_});
  auto offsets = sampling_offsets->forward(hidden).view({b, q, heads_, levels_, points_, 2});
  auto weights = attention_weights->forward(hidden).view({b, q, heads_, levels_ * points_});
  weights = torch::softmax(weights, -1).view({b, q, heads_, levels_, points_});

  torch::Tensor locations;
  using torch::indexing::None;
  using torch::indexing::Slice;
  if (reference_points.size(-1) == 2) {
    // offset_normalizer = (W, H) per level
    auto normalizer = torch::stack({spatial_shapes.select(1, 1), spatial_shapes.select(1, 0)}, -1);
    locations = reference_points.index({Slice(), Slice(), None, Slice(), None, Slice()}) +
                offsets / normalizer.index({None, None, None, Slice(), None, Slice()});
  } else {
    TORCH_CHECK(reference_points.size(-1) == 4, "reference points must have 2 or 4 coordinates");
    locations = reference_points.index({Slice(), Slice(), None, Slice(), None, Slice(None, 2)}) +
                offsets / double(points_) *
                    reference_points.index({Slice(), Slice(), None, Slice(), None, Slice(2, None)}) * 0.5;
  }
  return output_proj->forward(multi_scale_deformable_attention(value, shapes, locations, weights));
}

}  // namespace gligen::detect
