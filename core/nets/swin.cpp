#include "core/nets/swin.h"

#include <algorithm>
#include <cmath>

#include "core/nets/module_tree.h"
#include "core/util/error.h"

namespace gligen::nets {

torch::Tensor swin_window_partition(const torch::Tensor& x, int64_t window) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  return x.view({b, h / window, window, w / window, window, c})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({-1, window, window, c});
}

torch::Tensor swin_window_reverse(const torch::Tensor& windows, int64_t window, int64_t height, int64_t width) {
  const int64_t c = windows.size(-1);
  return windows.view({-1, height / window, width / window, window, window, c})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({-1, height, width, c});
}

torch::Tensor swin_relative_position_index(int64_t window) {
  auto coords = torch::arange(window, torch::kLong);
  auto grids = torch::meshgrid({coords, coords}, "ij");
  auto flat = torch::stack({grids[0], grids[1]}).flatten(1);                           // [2, w*w]
  auto rel = (flat.unsqueeze(2) - flat.unsqueeze(1)).permute({1, 2, 0}).contiguous();  // [w*w, w*w, 2]
  rel.select(2, 0).add_(window - 1);
  rel.select(2, 1).add_(window - 1);
  rel.select(2, 0).mul_(2 * window - 1);
  return rel.sum(-1);
}

torch::Tensor swin_shift_attention_mask(int64_t height, int64_t width, int64_t window, int64_t shift,
                                        const torch::TensorOptions& options) {
  auto img = torch::zeros({1, height, width, 1}, options);
  // Python slices (0, -w), (-w, -s), (-s, None) of each axis, numbered row-major.
  auto bounds = [&](int64_t n) {
    return std::vector<std::pair<int64_t, int64_t>>{{0, n - window}, {n - window, n - shift}, {n - shift, n}};
  };
  int64_t count = 0;
  for (auto [h0, h1] : bounds(height)) {
    for (auto [w0, w1] : bounds(width)) {
      if (h1 > h0 && w1 > w0) img.slice(1, h0, h1).slice(2, w0, w1).fill_(double(count));
      ++count;
    }
  }
  auto windows = swin_window_partition(img, window).view({-1, window * window});
  auto diff = windows.unsqueeze(1) - windows.unsqueeze(2);
  return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0);
}

SwinPatchEmbeddingsImpl::SwinPatchEmbeddingsImpl(const SwinConfig& config)
    : patch_h_(config.patch_height), patch_w_(config.patch_width), channels_(config.num_channels) {
  projection = register_module("projection",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(config.num_channels, config.embed_dim,
                                                                          {config.patch_height, config.patch_width})
                                                     .stride({config.patch_height, config.patch_width})));
}

torch::Tensor SwinPatchEmbeddingsImpl::forward(const torch::Tensor& pixel_values, int64_t& out_height,
                                               int64_t& out_width) {
  if (pixel_values.dim() != 4 || pixel_values.size(1) != channels_) {
    throw Error("Swin input must be [batch, " + std::to_string(channels_) + ", height, width]");
  }
  const int64_t h = pixel_values.size(2), w = pixel_values.size(3);
  const int64_t pad_w = w % patch_w_ ? patch_w_ - w % patch_w_ : 0;
  const int64_t pad_h = h % patch_h_ ? patch_h_ - h % patch_h_ : 0;
  auto x = pixel_values;
  if (pad_w || pad_h) x = torch::constant_pad_nd(x, {0, pad_w, 0, pad_h});
  x = projection->forward(x);
  out_height = x.size(2);
  out_width = x.size(3);
  return x.flatten(2).transpose(1, 2);
}

SwinEmbeddingsImpl::SwinEmbeddingsImpl(const SwinConfig& config) {
  patch_embeddings = register_module("patch_embeddings", SwinPatchEmbeddings(config));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.embed_dim}).eps(1e-5)));
}

torch::Tensor SwinEmbeddingsImpl::forward(const torch::Tensor& pixel_values, int64_t& out_height, int64_t& out_width) {
  return norm->forward(patch_embeddings->forward(pixel_values, out_height, out_width));
}

SwinSelfAttentionImpl::SwinSelfAttentionImpl(const SwinConfig& config, int64_t dim, int64_t num_heads)
    : num_heads_(num_heads), head_dim_(dim / num_heads), window_(config.window_size) {
  const int64_t w = config.window_size;
  relative_position_bias_table =
      register_parameter("relative_position_bias_table", torch::zeros({(2 * w - 1) * (2 * w - 1), num_heads}));
  relative_position_index = register_buffer("relative_position_index", swin_relative_position_index(w));
  auto linear = [&](const char* name) {
    return register_module(name, torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(config.qkv_bias)));
  };
  query = linear("query");
  key = linear("key");
  value = linear("value");
}

torch::Tensor SwinSelfAttentionImpl::forward(const torch::Tensor& windows, const torch::Tensor& mask) {
  const int64_t bw = windows.size(0), n = windows.size(1);
  auto heads = [&](const torch::Tensor& t) { return t.view({bw, n, num_heads_, head_dim_}).permute({0, 2, 1, 3}); };
  auto q = heads(query->forward(windows));
  auto k = heads(key->forward(windows));
  auto v = heads(value->forward(windows));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(head_dim_));
  auto bias = relative_position_bias_table.index({relative_position_index.view(-1)})
                  .view({window_ * window_, window_ * window_, -1})
                  .permute({2, 0, 1})
                  .contiguous();
  scores = scores + bias.unsqueeze(0);
  if (mask.defined()) {
    const int64_t nw = mask.size(0);
    scores = scores.view({bw / nw, nw, num_heads_, n, n}) + mask.unsqueeze(1).unsqueeze(0);
    scores = scores.view({-1, num_heads_, n, n});
  }
  auto probs = torch::softmax(scores, -1);
  return torch::matmul(probs, v).permute({0, 2, 1, 3}).contiguous().view({bw, n, num_heads_ * head_dim_});
}

SwinLayerImpl::SwinLayerImpl(const SwinConfig& config, int64_t dim, int64_t num_heads, int64_t shift_size)
    : window_(config.window_size),
      shift_(shift_size),
      act_(hf_activation_from_name(config.hidden_act, "Swin config: hidden_act")) {
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(config.layer_norm_eps)); };
  layernorm_before = register_module("layernorm_before", ln());
  attention_self = register_at(*this, "attention.self", SwinSelfAttention(config, dim, num_heads));
  attention_output = register_at(*this, "attention.output.dense", torch::nn::Linear(dim, dim));
  layernorm_after = register_module("layernorm_after", ln());
  intermediate = register_at(*this, "intermediate.dense", torch::nn::Linear(dim, config.mlp_hidden(dim)));
  output = register_at(*this, "output.dense", torch::nn::Linear(config.mlp_hidden(dim), dim));
}

torch::Tensor SwinLayerImpl::forward(const torch::Tensor& x, int64_t height, int64_t width, bool always_partition) {
  int64_t window = window_, shift = shift_;
  if (!always_partition && std::min(height, width) <= window) {
    shift = 0;
    window = std::min(height, width);
    TORCH_CHECK(window == window_, "Swin: a ", height, "x", width, " map smaller than the window is not supported");
  }
  const int64_t b = x.size(0), c = x.size(2);
  auto h = layernorm_before->forward(x).view({b, height, width, c});
  const int64_t pad_r = (window - width % window) % window, pad_b = (window - height % window) % window;
  if (pad_r || pad_b) h = torch::constant_pad_nd(h, {0, 0, 0, pad_r, 0, pad_b});
  const int64_t hp = h.size(1), wp = h.size(2);
  if (shift > 0) h = torch::roll(h, {-shift, -shift}, {1, 2});
  auto windows = swin_window_partition(h, window).view({-1, window * window, c});
  torch::Tensor mask;
  if (shift > 0) mask = swin_shift_attention_mask(hp, wp, window, shift, h.options());
  auto attn = attention_output->forward(attention_self->forward(windows, mask));
  auto merged = swin_window_reverse(attn.view({-1, window, window, c}), window, hp, wp);
  if (shift > 0) merged = torch::roll(merged, {shift, shift}, {1, 2});
  if (pad_r || pad_b) merged = merged.slice(1, 0, height).slice(2, 0, width).contiguous();
  auto hidden = x + merged.view({b, height * width, c});
  auto mlp = output->forward(apply_hf_activation(act_, intermediate->forward(layernorm_after->forward(hidden))));
  return hidden + mlp;
}

SwinPatchMergingImpl::SwinPatchMergingImpl(int64_t dim) {
  reduction = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * dim})));
}

torch::Tensor SwinPatchMergingImpl::forward(const torch::Tensor& x, int64_t height, int64_t width) {
  const int64_t b = x.size(0), c = x.size(2);
  auto f = x.view({b, height, width, c});
  if (height % 2 || width % 2) f = torch::constant_pad_nd(f, {0, 0, 0, width % 2, 0, height % 2});
  using torch::indexing::Slice;
  auto x0 = f.index({Slice(), Slice(0, torch::indexing::None, 2), Slice(0, torch::indexing::None, 2)});
  auto x1 = f.index({Slice(), Slice(1, torch::indexing::None, 2), Slice(0, torch::indexing::None, 2)});
  auto x2 = f.index({Slice(), Slice(0, torch::indexing::None, 2), Slice(1, torch::indexing::None, 2)});
  auto x3 = f.index({Slice(), Slice(1, torch::indexing::None, 2), Slice(1, torch::indexing::None, 2)});
  auto merged = torch::cat({x0, x1, x2, x3}, -1).view({b, -1, 4 * c});
  return reduction->forward(norm->forward(merged));
}

SwinStageImpl::SwinStageImpl(const SwinConfig& config, int64_t dim, int64_t depth, int64_t num_heads, bool down) {
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < depth; ++i) {
    blocks->push_back(SwinLayer(config, dim, num_heads, i % 2 == 0 ? 0 : config.window_size / 2));
  }
  if (down) downsample = register_module("downsample", SwinPatchMerging(dim));
}

SwinBackboneImpl::SwinBackboneImpl(const SwinConfig& config) : config_(config) {
  embeddings = register_module("embeddings", SwinEmbeddings(config));
  auto layers = register_at(*this, "encoder.layers", torch::nn::ModuleList());
  for (int64_t s = 0; s < config.num_stages(); ++s) {
    stages.push_back(SwinStage(config, config.stage_channels(s + 1), config.depths[s], config.num_heads[s],
                               s + 1 < config.num_stages()));
    layers->push_back(stages.back());
  }
  auto norms_root = child_container(*this, "hidden_states_norms");
  for (size_t i = 0; i < config.out_features.size(); ++i) {
    const int64_t ch = config.stage_channels(config.out_indices[i]);
    norms.push_back(
        norms_root->register_module(config.out_features[i], torch::nn::LayerNorm(torch::nn::LayerNormOptions({ch}))));
  }
}

std::vector<int64_t> SwinBackboneImpl::channels() const {
  std::vector<int64_t> out;
  for (auto i : config_.out_indices) out.push_back(config_.stage_channels(i));
  return out;
}

std::vector<torch::Tensor> SwinBackboneImpl::forward(const torch::Tensor& pixel_values, const Probe& probe) {
  int64_t h = 0, w = 0;
  auto hidden = embeddings->forward(pixel_values, h, w);
  if (probe) probe("embeddings", hidden);
  const int64_t b = hidden.size(0);
  std::vector<torch::Tensor> features;
  size_t next = 0;
  auto emit = [&](int64_t stage_index, const torch::Tensor& states, int64_t fh, int64_t fw) {
    if (next < config_.out_indices.size() && config_.out_indices[next] == stage_index) {
      auto f = norms[next]->forward(states);
      features.push_back(f.view({b, fh, fw, f.size(-1)}).permute({0, 3, 1, 2}).contiguous());
      ++next;
    }
  };
  emit(0, hidden, h, w);
  for (int64_t s = 0; s < config_.num_stages(); ++s) {
    auto& stage = stages[s];
    for (const auto& block : *stage->blocks) hidden = block->as<SwinLayerImpl>()->forward(hidden, h, w, true);
    emit(s + 1, hidden, h, w);
    if (stage->downsample) {
      hidden = stage->downsample->forward(hidden, h, w);
      h = (h + 1) / 2;
      w = (w + 1) / 2;
    }
  }
  return features;
}

}  // namespace gligen::nets
