#include "core/nets/ram_swin.h"

#include <algorithm>
#include <cmath>

#include "core/nets/module_tree.h"
#include "core/nets/swin.h"
#include "core/util/error.h"

namespace gligen::nets {

int64_t RamSwinConfig::stage_window(int64_t stage) const { return std::min(window_size, stage_resolution(stage)); }

void RamSwinConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& what) {
    throw Error(source + ": " + what + ". Use the Swin config that came with the RAM checkpoint.");
  };
  if (depths.empty() || depths.size() != num_heads.size())
    bad("\"depths\" and \"num_heads\" must be non-empty lists of one length");
  if (embed_dim <= 0 || window_size <= 0 || image_res <= 0 || patch_size <= 0) bad("sizes must be positive");
  if (image_res % patch_size != 0)
    bad("\"image_res\" (" + std::to_string(image_res) + ") must be a multiple of the patch size 4");
  for (int64_t s = 0; s < num_stages(); ++s) {
    if (depths[s] <= 0 || num_heads[s] <= 0) bad("\"depths\" and \"num_heads\" must be positive");
    if (stage_channels(s) % num_heads[s] != 0) {
      bad("stage " + std::to_string(s) + " has " + std::to_string(stage_channels(s)) + " channels, not divisible by " +
          std::to_string(num_heads[s]) + " heads");
    }
    const int64_t res = stage_resolution(s);
    if (res <= 0 || res % stage_window(s) != 0 || (s + 1 < num_stages() && res % 2 != 0)) {
      bad("stage " + std::to_string(s) + " works on a " + std::to_string(res) + "x" + std::to_string(res) +
          " map, which the window size " + std::to_string(window_size) + " and the patch merging do not divide");
    }
  }
  if (vision_width != stage_channels(num_stages() - 1)) {
    bad("\"vision_width\" is " + std::to_string(vision_width) + " but the last stage has " +
        std::to_string(stage_channels(num_stages() - 1)) + " channels");
  }
}

RamWindowAttentionImpl::RamWindowAttentionImpl(int64_t dim, int64_t window, int64_t num_heads)
    : num_heads_(num_heads),
      head_dim_(dim / num_heads),
      window_(window),
      scale_(std::pow(double(dim / num_heads), -0.5)) {
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
  relative_position_bias_table = register_parameter("relative_position_bias_table",
                                                    torch::zeros({(2 * window - 1) * (2 * window - 1), num_heads}));
  relative_position_index = swin_relative_position_index(window);
}

torch::Tensor RamWindowAttentionImpl::forward(const torch::Tensor& windows, const torch::Tensor& mask) {
  const int64_t bw = windows.size(0), n = windows.size(1), c = windows.size(2);
  auto parts = qkv->forward(windows).reshape({bw, n, 3, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  auto q = parts[0] * scale_;
  auto k = parts[1];
  auto v = parts[2];
  auto attn = torch::matmul(q, k.transpose(-2, -1));
  auto bias = relative_position_bias_table.index({relative_position_index.view(-1)})
                  .view({window_ * window_, window_ * window_, -1})
                  .permute({2, 0, 1})
                  .contiguous();
  attn = attn + bias.unsqueeze(0);
  if (mask.defined()) {
    const int64_t nw = mask.size(0);
    attn = attn.view({bw / nw, nw, num_heads_, n, n}) + mask.unsqueeze(1).unsqueeze(0);
    attn = attn.view({-1, num_heads_, n, n});
  }
  attn = torch::softmax(attn, -1);
  return proj->forward(torch::matmul(attn, v).transpose(1, 2).reshape({bw, n, c}));
}

RamSwinBlockImpl::RamSwinBlockImpl(int64_t dim, int64_t resolution, int64_t window, int64_t shift, int64_t num_heads,
                                   double mlp_ratio)
    : resolution_(resolution), window_(window), shift_(shift) {
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)); };
  norm1 = register_module("norm1", ln());
  attn = register_module("attn", RamWindowAttention(dim, window, num_heads));
  norm2 = register_module("norm2", ln());
  const auto hidden = static_cast<int64_t>(double(dim) * mlp_ratio);
  fc1 = register_at(*this, "mlp.fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_at(*this, "mlp.fc2", torch::nn::Linear(hidden, dim));
  if (shift_ > 0) attn_mask = swin_shift_attention_mask(resolution, resolution, window, shift, torch::kFloat32);
}

torch::Tensor RamSwinBlockImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(2);
  auto h = norm1->forward(x).view({b, resolution_, resolution_, c});
  if (shift_ > 0) h = torch::roll(h, {-shift_, -shift_}, {1, 2});
  auto windows = swin_window_partition(h, window_).view({-1, window_ * window_, c});
  auto out = attn->forward(windows, attn_mask);
  auto merged = swin_window_reverse(out.view({-1, window_, window_, c}), window_, resolution_, resolution_);
  if (shift_ > 0) merged = torch::roll(merged, {shift_, shift_}, {1, 2});
  auto y = x + merged.reshape({b, resolution_ * resolution_, c});
  return y + fc2->forward(torch::gelu(fc1->forward(norm2->forward(y))));
}

RamPatchMergingImpl::RamPatchMergingImpl(int64_t dim, int64_t resolution) : resolution_(resolution) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * dim}).eps(1e-5)));
  reduction = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
}

torch::Tensor RamPatchMergingImpl::forward(const torch::Tensor& x) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  const int64_t b = x.size(0), c = x.size(2);
  auto g = x.view({b, resolution_, resolution_, c});
  auto x0 = g.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)});
  auto x1 = g.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)});
  auto x2 = g.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)});
  auto x3 = g.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)});
  auto merged = torch::cat({x0, x1, x2, x3}, -1).view({b, -1, 4 * c});
  return reduction->forward(norm->forward(merged));
}

RamSwinTransformerImpl::RamSwinTransformerImpl(const RamSwinConfig& config) : config_(config) {
  config_.validate("RAM Swin config");
  const int64_t p = config_.patch_size;
  patch_proj = register_at(*this, "patch_embed.proj",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(3, config_.embed_dim, {p, p}).stride({p, p})));
  patch_norm = register_at(*this, "patch_embed.norm",
                           torch::nn::LayerNorm(torch::nn::LayerNormOptions({config_.embed_dim}).eps(1e-5)));
  auto layers = child_container(*this, "layers");
  for (int64_t s = 0; s < config_.num_stages(); ++s) {
    auto stage = child_container(*layers, std::to_string(s));
    auto list = stage->register_module("blocks", torch::nn::ModuleList());
    const int64_t dim = config_.stage_channels(s), res = config_.stage_resolution(s), window = config_.stage_window(s);
    blocks.emplace_back();
    for (int64_t j = 0; j < config_.depths[s]; ++j) {
      const int64_t shift = (j % 2 == 1 && config_.stage_shifts(s)) ? config_.window_size / 2 : 0;
      blocks.back().push_back(RamSwinBlock(dim, res, window, shift, config_.num_heads[s], config_.mlp_ratio));
      list->push_back(blocks.back().back());
    }
    downsample.push_back(s + 1 < config_.num_stages() ? stage->register_module("downsample", RamPatchMerging(dim, res))
                                                      : RamPatchMerging(nullptr));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config_.vision_width}).eps(1e-5)));
}

void RamSwinTransformerImpl::to_device(torch::Device device, torch::ScalarType dtype) {
  for (auto& stage : blocks) {
    for (auto& block : stage) {
      block->attn->relative_position_index = block->attn->relative_position_index.to(device);
      if (block->attn_mask.defined()) block->attn_mask = block->attn_mask.to(device, dtype);
    }
  }
}

torch::Tensor RamSwinTransformerImpl::forward(const torch::Tensor& pixel_values, const Probe& probe) {
  const int64_t r = config_.image_res;
  if (pixel_values.dim() != 4 || pixel_values.size(1) != 3 || pixel_values.size(2) != r || pixel_values.size(3) != r) {
    throw Error("the RAM image encoder takes [batch, 3, " + std::to_string(r) + ", " + std::to_string(r) + "] images");
  }
  auto x = patch_norm->forward(patch_proj->forward(pixel_values).flatten(2).transpose(1, 2));
  if (probe) probe("patch_embed", x);
  for (int64_t s = 0; s < config_.num_stages(); ++s) {
    for (size_t j = 0; j < blocks[s].size(); ++j) {
      x = blocks[s][j]->forward(x);
      if (probe) probe("layers." + std::to_string(s) + ".blocks." + std::to_string(j), x);
    }
    if (downsample[s]) x = downsample[s]->forward(x);
    if (probe) probe("layers." + std::to_string(s), x);
  }
  x = norm->forward(x);
  auto pooled = torch::adaptive_avg_pool1d(x.transpose(1, 2), 1).transpose(1, 2);  // [B, 1, C]
  return torch::cat({pooled, x}, 1);
}

}  // namespace gligen::nets
