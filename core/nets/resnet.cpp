#include "core/nets/resnet.h"

#include <array>
#include <optional>

#include "core/util/error.h"

namespace gligen::nets {

namespace F = torch::nn::functional;

namespace {

// Where im2col + GEMM beats oneDNN (measured on 2 AVX-512 cores, LibTorch 1.13, OpenBLAS, with the
// engine's malloc settings): weights of 32 MiB and more (1280x1280x3x3 is 59 MiB) at up to 64 output
// positions (batch x H' x W'): 1.4x faster at 4x4 with batch 2 (13.2 -> 9.2 ms; 2560 input
// channels 23.6 -> 16.9 ms). No gain at 8x8 with batch 2 (128 positions: 25.3 vs 24.1 ms), slower
// above (1280 channels at 16x16, batch 1: 0.8x) and with smaller weights (640x640x3x3 at 8x8: 0.95x).
constexpr int64_t kGemmMinWeightBytes = int64_t(32) << 20;
constexpr int64_t kGemmMaxPositions = 64;

// The explicit padding of a Conv2d, or nothing for kValid/kSame. `visit` is found by argument-dependent
// lookup: LibTorch 1.13's options hold a c10::variant, 2.x's a std::variant.
struct ExplicitPadding {
  std::optional<std::array<int64_t, 2>> operator()(const torch::ExpandingArray<2>& p) const {
    return std::array<int64_t, 2>{(*p)[0], (*p)[1]};
  }
  template <typename Other>
  std::optional<std::array<int64_t, 2>> operator()(const Other&) const {
    return std::nullopt;
  }
};

struct IsZerosMode {
  bool operator()(const torch::enumtype::kZeros&) const { return true; }
  template <typename Other>
  bool operator()(const Other&) const {
    return false;
  }
};

// What the GEMM path needs of one call, when it applies.
struct GemmPlan {
  std::array<int64_t, 2> kernel, stride, padding;
  int64_t out_h, out_w;
};

// The padding of a convolution the inference-only paths below may compute another way: on the
// CPU in float32, with nothing recording gradients, groups 1, dilation 1 and explicit zero padding.
// nullopt when any of these does not hold (the module's own forward runs).
std::optional<std::array<int64_t, 2>> inference_conv_padding(const torch::nn::Conv2dImpl& conv,
                                                             const torch::Tensor& x) {
  const auto& o = conv.options;
  const auto& w = conv.weight;
  if (!x.device().is_cpu() || x.dim() != 4 || x.scalar_type() != torch::kFloat32 || w.scalar_type() != x.scalar_type())
    return std::nullopt;
  if (torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad())) return std::nullopt;
  const auto& d = *o.dilation();
  if (o.groups() != 1 || d[0] != 1 || d[1] != 1 || !visit(IsZerosMode{}, o.padding_mode())) return std::nullopt;
  return visit(ExplicitPadding{}, o.padding());
}

std::optional<GemmPlan> gemm_plan(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  const auto& o = conv.options;
  const auto& w = conv.weight;
  const auto padding = inference_conv_padding(conv, x);
  if (!padding || w.numel() * static_cast<int64_t>(w.element_size()) < kGemmMinWeightBytes) return std::nullopt;
  GemmPlan plan{{(*o.kernel_size())[0], (*o.kernel_size())[1]}, {(*o.stride())[0], (*o.stride())[1]}, *padding, 0, 0};
  plan.out_h = (x.size(2) + 2 * plan.padding[0] - plan.kernel[0]) / plan.stride[0] + 1;
  plan.out_w = (x.size(3) + 2 * plan.padding[1] - plan.kernel[1]) / plan.stride[1] + 1;
  if (plan.out_h <= 0 || plan.out_w <= 0 || x.size(0) * plan.out_h * plan.out_w > kGemmMaxPositions)
    return std::nullopt;
  return plan;
}

// The fused "nearest 2x, then 3x3 convolution" of Upsample2D pays off once the low-resolution
// input has this many positions (batch x H x W). Measured on 2 AVX-512 cores, LibTorch 1.13,
// oneDNN, against interpolate + conv2d (best of 4): 1.27x at 128 positions (1280 channels, 8x8,
// batch 2), 1.7-1.75x at 512 (1280 and 640 channels at 16x16, batch 2), 1.8-2.1x from 1024 up (the
// VAE's upsamplers, the UNet's at 512x512). Break-even at 64 (1280 channels at 8x8, batch 1: 1.01x)
// and slower below (4x4, batch 2: 0.71x), where building and reordering the 4x larger phase weight
// outweighs the arithmetic saved.
constexpr int64_t kPhasesMinPositions = 128;

// The four phases' 2x2 kernels of a 3x3 kernel [K, C, 3, 3], as one weight [4K, C, 2, 2] in the
// phase order (0,0) (0,1) (1,0) (1,1). Phase a of the rows takes the taps {w0, w1+w2} (a = 0) or
// {w0+w1, w2} (a = 1), then phase b does the same along the columns. One pass over the weight: built
// with tensor operations (selects, sums, stacks, a cat) it cost 53 ms for a 1280x1280 kernel, once
// per UNet step at 512x512, against 12.5 ms here, bit-identical.
torch::Tensor phase_weight(const torch::Tensor& weight) {
  TORCH_CHECK(
      weight.scalar_type() == torch::kFloat32 && weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3,
      "upsample_conv_phases needs a float32 3x3 convolution weight, got ", weight.scalar_type(), " ", weight.sizes(),
      " (upsample_conv_uses_phases says where it applies)");
  const auto w = weight.contiguous();
  const int64_t K = w.size(0), C = w.size(1), plane = K * C * 4;
  auto phases = torch::empty({4, K, C, 2, 2}, w.options());
  const float* src = w.data_ptr<float>();
  float* dst = phases.data_ptr<float>();
  // One thread: ATen's parallel_for, a header template, would run serially here anyway (the project
  // is not compiled with OpenMP); the pass is about 0.5% of a 256x256 UNet step.
  for (int64_t i = 0; i < K * C; ++i) {
    const float* g = src + 9 * i;  // rows g[0..2], g[3..5], g[6..8]
    float rows[2][2][3];           // [row phase a][tap][column]
    for (int c = 0; c < 3; ++c) {
      rows[0][0][c] = g[c];
      rows[0][1][c] = g[3 + c] + g[6 + c];
      rows[1][0][c] = g[c] + g[3 + c];
      rows[1][1][c] = g[6 + c];
    }
    for (int a = 0; a < 2; ++a) {
      for (int t = 0; t < 2; ++t) {
        const float* q = rows[a][t];
        float* b0 = dst + (2 * a) * plane + 4 * i + 2 * t;
        float* b1 = dst + (2 * a + 1) * plane + 4 * i + 2 * t;
        b0[0] = q[0], b0[1] = q[1] + q[2];
        b1[0] = q[0] + q[1], b1[1] = q[2];
      }
    }
  }
  return phases.view({4 * K, C, 2, 2});
}

}  // namespace

bool upsample_conv_uses_phases(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                               const std::optional<std::vector<int64_t>>& output_size) {
  const auto padding = inference_conv_padding(conv, x);
  if (!padding || (*padding)[0] != 1 || (*padding)[1] != 1) return false;
  const auto &k = *conv.options.kernel_size(), &s = *conv.options.stride();
  if (k[0] != 3 || k[1] != 3 || s[0] != 1 || s[1] != 1) return false;
  if (output_size &&
      (output_size->size() != 2 || (*output_size)[0] != 2 * x.size(2) || (*output_size)[1] != 2 * x.size(3)))
    return false;
  return x.size(0) * x.size(2) * x.size(3) >= kPhasesMinPositions;
}

torch::Tensor upsample_conv_phases(torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  // Output row 2i+a of a 3x3 convolution over the nearest-upsampled input sees input rows
  // {i-1, i, i} (a = 0) or {i, i, i+1} (a = 1), likewise for columns (phase_weight). The four (a, b)
  // phases are one 2x2 convolution with 4x the output channels over the input padded by 1, 16
  // products per input position instead of 36: phase (a, b) of output pixel (i, j) is its output
  // at (i+a, j+b).
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), K = conv.weight.size(0);
  const auto out =
      F::conv2d(x, phase_weight(conv.weight),  // [B, 4K, H+1, W+1]
                F::Conv2dFuncOptions().bias(conv.bias.defined() ? conv.bias.repeat({4}) : torch::Tensor()).padding(1))
          .view({B, 2, 2, K, H + 1, W + 1});
  auto y = torch::empty({B, K, H, 2, W, 2}, x.options());
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      y.select(5, b).select(3, a).copy_(out.select(2, b).select(1, a).narrow(2, a, H).narrow(3, b, W));
  return y.view({B, K, 2 * H, 2 * W});
}

bool conv2d_uses_gemm(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  return gemm_plan(conv, x).has_value();
}

torch::Tensor conv2d_forward(torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  const auto plan = gemm_plan(conv, x);
  if (!plan) return conv.forward(x);
  const auto& [k, s, p, ho, wo] = *plan;
  const int64_t B = x.size(0), O = conv.weight.size(0);
  const int64_t K = x.size(1) * k[0] * k[1];
  // Columns [C*kh*kw, B*H'*W'] (a few MiB at most: the position count is capped).
  auto cols = F::unfold(x, F::UnfoldFuncOptions({k[0], k[1]})
                               .padding(torch::ExpandingArray<2>({p[0], p[1]}))
                               .stride(torch::ExpandingArray<2>({s[0], s[1]})));
  cols = cols.transpose(0, 1).reshape({K, B * ho * wo});
  const auto weight = conv.weight.reshape({O, K});  // OIHW rows are the im2col order: no copy
  auto y = conv.bias.defined() ? torch::addmm(conv.bias.unsqueeze(1), weight, cols) : torch::mm(weight, cols);
  return y.view({O, B, ho, wo}).transpose(0, 1).contiguous();  // [B, O, H', W']
}

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlock2DOptions& o) : options_(o) {
  const int64_t in = o.in_channels();
  const int64_t out = o.out_channels();
  const int64_t groups_out = o.groups_out().value_or(o.groups());
  if (o.time_embedding_norm() != "default" && o.time_embedding_norm() != "scale_shift")
    throw Error("ResnetBlock2D: unsupported time_embedding_norm \"" + o.time_embedding_norm() +
                "\" (supported: default, scale_shift)");
  if (in % o.groups() != 0 || out % groups_out != 0)
    throw Error("ResnetBlock2D: channels " + std::to_string(in) + " -> " + std::to_string(out) +
                " are not divisible by the group count " + std::to_string(o.groups()));

  // Registration order is diffusers' attribute order, which is the checkpoint key order.
  norm1 = register_module("norm1", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.groups(), in).eps(o.eps())));
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
  if (o.temb_channels()) {
    const int64_t proj_out = o.time_embedding_norm() == "scale_shift" ? 2 * out : out;
    time_emb_proj = register_module("time_emb_proj", torch::nn::Linear(*o.temb_channels(), proj_out));
  }
  norm2 = register_module("norm2", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups_out, out).eps(o.eps())));
  conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1)));
  if (o.use_in_shortcut().value_or(in != out)) {
    conv_shortcut = register_module(
        "conv_shortcut", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(o.conv_shortcut_bias())));
  }
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  const auto act = options_.non_linearity();
  // x: [B, C_in, H, W]
  auto h = apply_activation(act, norm1(x));
  h = conv2d_forward(*conv1, h);  // [B, C_out, H, W], a fresh tensor: safe to update in place (conv saves its input)

  torch::Tensor t;
  if (time_emb_proj && temb.defined()) {
    t = options_.skip_time_act() ? temb : activation_copy(act, temb);
    t = time_emb_proj(t).unsqueeze(-1).unsqueeze(-1);  // [B, C_out(*2), 1, 1]
  }
  if (options_.time_embedding_norm() == "scale_shift") {
    TORCH_CHECK(t.defined(), "ResnetBlock2D: scale_shift needs a time embedding");
    auto chunks = t.chunk(2, 1);
    h = norm2(h) * (chunks[0] + 1) + chunks[1];
  } else {
    if (t.defined()) h.add_(t);
    h = norm2(h);
  }
  h = apply_activation(act, h);
  h = conv2d_forward(*conv2, h);  // dropout is the identity at inference and p = 0 in every SD config

  const torch::Tensor shortcut = conv_shortcut ? conv2d_forward(*conv_shortcut, x) : x;
  h.add_(shortcut);
  if (options_.output_scale_factor() != 1.0) h.div_(options_.output_scale_factor());
  return h;  // [B, C_out, H, W]
}

Downsample2DImpl::Downsample2DImpl(const Downsample2DOptions& o) : options_(o) {
  const int64_t out = o.out_channels().value_or(o.channels());
  if (o.use_conv()) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), out, o.kernel_size())
                                                         .stride(2)
                                                         .padding(o.padding())
                                                         .bias(o.bias())));
  } else if (out != o.channels()) {
    throw Error("Downsample2D: average pooling cannot change the channel count");
  }
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x) {
  // x: [B, C, H, W]
  if (!options_.use_conv()) return F::avg_pool2d(x, F::AvgPool2dFuncOptions(2).stride(2));
  if (options_.padding() == 0) {
    // diffusers pads only on the right and bottom, so odd sides keep their last row/column.
    return conv2d_forward(*conv, F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
  }
  return conv2d_forward(*conv, x);
}

Upsample2DImpl::Upsample2DImpl(const Upsample2DOptions& o) : options_(o) {
  const int64_t out = o.out_channels().value_or(o.channels());
  if (o.use_conv()) {
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(o.channels(), out, o.kernel_size()).padding(o.padding()).bias(o.bias())));
  }
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x, std::optional<std::vector<int64_t>> output_size) {
  // x: [B, C, H, W]
  if (conv && upsample_conv_uses_phases(*conv, x, output_size)) return upsample_conv_phases(*conv, x);
  torch::Tensor h = x;
  // Nearest upsampling has no bfloat16 kernel in some torch versions: go through float32.
  const auto dtype = h.scalar_type();
  if (dtype == torch::kBFloat16) h = h.to(torch::kFloat32);
  if (h.size(0) >= 64) h = h.contiguous();
  auto opts = F::InterpolateFuncOptions().mode(torch::kNearest);
  if (output_size)
    opts.size(*output_size);
  else
    opts.scale_factor(std::vector<double>{2.0, 2.0});
  h = F::interpolate(h, opts);  // [B, C, 2H, 2W] or [B, C, size...]
  if (dtype == torch::kBFloat16) h = h.to(dtype);
  return conv ? conv2d_forward(*conv, h) : h;
}

}  // namespace gligen::nets
