#include "core/nets/resnet.h"

#include "core/util/error.h"

namespace gligen::nets {

namespace F = torch::nn::functional;

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
  h = conv1(h);  // [B, C_out, H, W], a fresh tensor: safe to update in place (conv saves its input)

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
  h = conv2(h);  // dropout is the identity at inference and p = 0 in every SD config

  const torch::Tensor shortcut = conv_shortcut ? conv_shortcut(x) : x;
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
    return conv(F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
  }
  return conv(x);
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
  return conv ? conv(h) : h;
}

}  // namespace gligen::nets
