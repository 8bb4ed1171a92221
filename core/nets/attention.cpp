#include "core/nets/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/nets/cpu_attention.h"
#include "core/util/error.h"
#include "core/util/torch_compat.h"

namespace gligen::nets {

torch::Tensor linear_forward(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return at::linear(x, layer->weight, layer->bias);
}

AttentionImpl::AttentionImpl(const AttentionOptions& o) : options_(o) {
  const int64_t inner = o.dim_head() * o.heads();
  const int64_t context_dim = o.cross_attention_dim().value_or(o.query_dim());
  const int64_t out_dim = o.out_dim().value_or(o.query_dim());
  scale_ = 1.0 / std::sqrt(static_cast<double>(o.dim_head()));  // dim_head ** -0.5
  if (o.norm_num_groups()) {
    group_norm = register_module(
        "group_norm",
        torch::nn::GroupNorm(torch::nn::GroupNormOptions(*o.norm_num_groups(), o.query_dim()).eps(o.eps())));
  }
  to_q = register_module("to_q", torch::nn::Linear(torch::nn::LinearOptions(o.query_dim(), inner).bias(o.bias())));
  to_k = register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(o.bias())));
  to_v = register_module("to_v", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(o.bias())));
  out_proj_ = torch::nn::Linear(torch::nn::LinearOptions(inner, out_dim).bias(o.out_bias()));
  to_out = register_module("to_out", torch::nn::ModuleList());
  to_out->push_back(out_proj_);
}

namespace {

// Largest score matrix [b, h, N, M] one attention_core_slice call materialises. Above it, the
// (batch, head) pairs are processed in groups (diffusers' sliced attention): every pair's
// scores, softmax and product are computed exactly as unsliced — the math is per pair — while
// the peak memory drops from B·H·N·M to one group's (at 512x512, 2 GiB of scores and
// probabilities per self-attention become 256 MiB).
constexpr int64_t kMaxScoreBytes = int64_t(128) << 20;

torch::Tensor attention_core_slice(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
                                   bool upcast_scores, bool upcast_softmax) {
  const auto dtype = q.scalar_type();
  torch::Tensor qs = q, ks = k;
  if (upcast_scores && dtype != torch::kFloat32) qs = q.to(torch::kFloat32), ks = k.to(torch::kFloat32);
  // diffusers scales inside the product (baddbmm(0, q, kᵀ, alpha=scale)); baddbmm on an
  // uninitialised buffer can produce NaN on LibTorch 1.13's CPU, so the scale goes on whichever is
  // smaller: the queries [.., N, d] (self-attention: M > d, one pass over N·d values instead of
  // N·M) or the scores. The two orders differ by a rounding of the last bit.
  const bool scale_queries = k.size(-2) > q.size(-1);
  torch::Tensor scores = torch::matmul(scale_queries ? qs * scale : qs, ks.transpose(-1, -2));  // [B, H, N, M]
  if (!scale_queries) scores.mul_(scale);  // fresh matmul output: matmul's backward does not read it
  torch::Tensor probs;
  if (upcast_softmax && scores.scalar_type() != torch::kFloat32)
    probs = torch::softmax(scores.to(torch::kFloat32), -1);
  else
    probs = torch::softmax(scores, -1);
  scores = torch::Tensor();  // release [B, H, N, M] early at large resolutions
  probs = probs.to(dtype);
  return torch::matmul(probs, v);  // [B, H, N, d]
}

}  // namespace

torch::Tensor attention_core(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
                             bool upcast_scores, bool upcast_softmax) {
  // LibTorch 2.x's fused kernels (as diffusers' default AttnProcessor2_0): they never materialise
  // the scores and accumulate the softmax in float32, which the upcast flags ask for. On CUDA always;
  // on the CPU for float32 inference, where its flash kernel is as exact as the explicit form (max
  // error against float64 1.5-9e-7 vs 3.5-9e-7 for [2, 8, 1024..4096, 40]) and 1.4-4.4x faster on
  // self-attention (torch 2.15, 2 cores; 0.86x on 77 text tokens). Training on the CPU keeps the
  // explicit computation at the end.
  const bool recording = torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (q.is_cuda() || (q.is_cpu() && q.scalar_type() == torch::kFloat32 && !recording)) {
    auto fused = compat::fused_attention(q, k, v, scale);
    if (fused.defined()) return fused;
  }
  // LibTorch 1.13 has no fused CPU attention: ours, block by block in the cache (cpu_attention.h).
  // Against the explicit form below, 2 cores, best of 3: [2, 8, 1024, 1054, 40] 19 vs 33-60 ms,
  // [2, 8, 256, 286, 80] 2.2-2.5 vs 3.9-8.3 ms, cross-attention [2, 8, 1024, 77, 40] 2.1 vs 3.9-10 ms,
  // [2, 8, 4096, 4096, 40] 0.26 vs 1.1 s; max error against float64 4-11e-7, as the explicit form's.
  if (cpu_fused_attention_applies(q, k, v)) return cpu_fused_attention(q, k, v, scale);  // not while recording
  const int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = k.size(2);
  const int64_t pair_bytes = N * M * static_cast<int64_t>(sizeof(float));  // upcast scores are float32
  if (B * H * pair_bytes <= kMaxScoreBytes) return attention_core_slice(q, k, v, scale, upcast_scores, upcast_softmax);
  // Groups of heads within one batch item, as many as fit the budget (at least one).
  const int64_t group = std::clamp<int64_t>(kMaxScoreBytes / pair_bytes, 1, H);
  std::vector<torch::Tensor> items;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<torch::Tensor> heads;
    for (int64_t h = 0; h < H; h += group) {
      const int64_t n = std::min(group, H - h);
      auto slice = [&](const torch::Tensor& t) { return t.narrow(0, b, 1).narrow(1, h, n); };
      heads.push_back(attention_core_slice(slice(q), slice(k), slice(v), scale, upcast_scores, upcast_softmax));
    }
    items.push_back(torch::cat(heads, 1));  // [1, H, N, d]
  }
  return torch::cat(items, 0);  // [B, H, N, d]
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const int64_t heads = options_.heads();
  const bool spatial = x.dim() == 4;
  torch::Tensor h = x;
  int64_t B = x.size(0), C = 0, H = 0, W = 0;
  if (spatial) {
    C = x.size(1), H = x.size(2), W = x.size(3);
    h = x.view({B, C, H * W}).transpose(1, 2);  // [B, N, C]
  }
  TORCH_CHECK(h.dim() == 3, "Attention expects [B, N, C] or [B, C, H, W], got ", x.sizes());
  if (group_norm) h = group_norm(h.transpose(1, 2)).transpose(1, 2);

  const torch::Tensor& kv_source = context.defined() ? context : h;
  auto q = linear_forward(to_q, h);          // [B, N, inner]
  auto k = linear_forward(to_k, kv_source);  // [B, M, inner]
  auto v = linear_forward(to_v, kv_source);  // [B, M, inner]
  const int64_t N = q.size(1), M = k.size(1), d = options_.dim_head();
  // Head split: [B, N, heads*d] -> [B, heads, N, d] (diffusers' head_to_batch_dim, as a view).
  q = q.view({B, N, heads, d}).transpose(1, 2);
  k = k.view({B, M, heads, d}).transpose(1, 2);
  v = v.view({B, M, heads, d}).transpose(1, 2);
  auto o = attention_core(q, k, v, scale_, options_.upcast_attention(), options_.upcast_softmax());
  o = o.transpose(1, 2).reshape({B, N, heads * d});  // [B, N, inner]
  o = linear_forward(out_proj_, o);                  // [B, N, out_dim]

  if (spatial) o = o.transpose(-1, -2).reshape({B, o.size(2), H, W});  // [B, out_dim, H, W]
  if (options_.residual_connection()) o.add_(x);                       // fresh linear output: safe in place
  if (options_.rescale_output_factor() != 1.0) o = o / options_.rescale_output_factor();
  return o;
}

GEGLUImpl::GEGLUImpl(int64_t dim_in, int64_t dim_out, bool bias) {
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(dim_in, 2 * dim_out).bias(bias)));
}

torch::Tensor GEGLUImpl::forward(const torch::Tensor& x) {
  auto parts = linear_forward(proj, x).chunk(2, -1);  // hidden, gate: [..., dim_out] each
  return parts[0] * torch::gelu(parts[1]);
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, std::optional<int64_t> dim_out, int64_t mult, bool bias) {
  const int64_t inner = dim * mult;
  geglu_ = GEGLU(dim, inner, bias);
  out_ = torch::nn::Linear(torch::nn::LinearOptions(inner, dim_out.value_or(dim)).bias(bias));
  net = register_module("net", torch::nn::ModuleList());
  net->push_back(geglu_);
  net->push_back(torch::nn::Dropout(0.0));  // net.1 has no parameters; kept for the key numbering
  net->push_back(out_);
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) { return linear_forward(out_, geglu_(x)); }

}  // namespace gligen::nets
