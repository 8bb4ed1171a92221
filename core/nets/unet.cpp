#include "core/nets/unet.h"

#include <filesystem>

#include "core/io/safetensors.h"
#include "core/io/resident_weights.h"
#include "core/io/state_dict.h"
#include "core/io/weights.h"
#include "core/util/error.h"

namespace gligen::nets {

UNet2DConditionImpl::UNet2DConditionImpl(const UNetConfig& c) : config_(c) {
  c.validate();
  act_ = activation_from_name(c.act_fn, "UNet act_fn");
  const auto& ch = c.block_out_channels;
  const int64_t n = static_cast<int64_t>(ch.size());
  const int64_t temb = c.time_embed_dim();

  // Registration order follows diffusers (conv_in, time_*, down_blocks, up_blocks, mid_block,
  // conv_norm_out, conv_out, position_net), so named_parameters() is in checkpoint order.
  conv_in = register_module(
      "conv_in",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(c.in_channels, ch[0], c.conv_in_kernel).padding((c.conv_in_kernel - 1) / 2)));
  time_proj = register_module("time_proj", Timesteps(ch[0], c.flip_sin_to_cos, c.freq_shift));
  time_embedding = register_module("time_embedding", TimestepEmbedding(ch[0], temb, act_));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());

  auto base = [&] {
    UNetBlockOptions o;
    o.temb_channels = temb;
    o.resnet_eps = c.norm_eps;
    o.act = act_;
    o.groups = c.norm_num_groups;
    o.time_embedding_norm = c.resnet_time_scale_shift;
    o.use_linear_projection = c.use_linear_projection;
    o.upcast_attention = c.upcast_attention;
    o.gated = c.is_gated();
    o.downsample_padding = c.downsample_padding;
    return o;
  };

  int64_t output_channel = ch[0];
  for (int64_t i = 0; i < n; ++i) {
    UNetBlockOptions o = base();
    o.in_channels = output_channel;
    output_channel = ch[i];
    o.out_channels = output_channel;
    o.num_layers = c.layers_per_block[i];
    o.transformer_layers = c.transformer_layers_per_block[i];
    o.has_attention = c.down_block_types[i] == "CrossAttnDownBlock2D";
    o.cross_attention_dim = c.cross_attention_dim[i];
    o.heads = c.num_attention_heads[i];
    o.only_cross_attention = c.only_cross_attention[i];
    o.add_sampler = i != n - 1;
    down_.push_back(DownBlock(o));
    down_blocks->push_back(down_.back());
  }

  if (!c.mid_block_type.empty()) {
    UNetBlockOptions o = base();
    o.in_channels = o.out_channels = ch[n - 1];
    o.num_layers = 1;
    o.transformer_layers = c.transformer_layers_per_block[n - 1];
    o.output_scale_factor = c.mid_block_scale_factor;
    o.has_attention = true;
    o.cross_attention_dim = c.cross_attention_dim[n - 1];
    o.heads = c.num_attention_heads[n - 1];
    mid_block = register_module("mid_block", MidBlockCrossAttn(o));
  }

  // Up path: per-block settings reversed; each stage has one more resnet than its down stage.
  output_channel = ch[n - 1];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = n - 1 - i;  // index of the mirrored down block
    UNetBlockOptions o = base();
    o.prev_output_channels = output_channel;
    output_channel = ch[r];
    o.out_channels = output_channel;
    o.in_channels = ch[std::max<int64_t>(r - 1, 0)];
    o.num_layers = c.layers_per_block[r] + 1;
    o.transformer_layers = c.transformer_layers_per_block[r];
    o.has_attention = c.up_block_types[i] == "CrossAttnUpBlock2D";
    o.cross_attention_dim = c.cross_attention_dim[r];
    o.heads = c.num_attention_heads[r];
    o.only_cross_attention = c.only_cross_attention[r];
    o.add_sampler = i != n - 1;
    up_.push_back(UpBlock(o));
    up_blocks->push_back(up_.back());
  }

  conv_norm_out = register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, ch[0]).eps(c.norm_eps)));
  conv_out = register_module(
      "conv_out",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(ch[0], c.out_channels, c.conv_out_kernel).padding((c.conv_out_kernel - 1) / 2)));
  if (c.is_gated()) {
    position_net = register_module("position_net", PositionNet(c.positive_len(), c.cross_attention_dim[0]));
  }
  for (const auto& m : modules(/*include_self=*/false))
    if (auto f = std::dynamic_pointer_cast<GatedSelfAttentionDenseImpl>(m)) fusers_.emplace_back(f);
}

void UNet2DConditionImpl::require_grounding_layers() const {
  if (!position_net)
    throw Error("this UNet has no GLIGEN grounding layers: its config has attention_type \"" + config_.attention_type +
                "\", so it has no fuser or position_net weights and cannot use boxes. Load a GLIGEN model "
                "(unet/config.json with attention_type \"gated\") for grounded generation, or generate without boxes.");
}

torch::Tensor UNet2DConditionImpl::grounding_tokens(const GroundingInputs& grounding) {
  require_grounding_layers();
  const auto& p = position_net->null_position_feature;
  GroundingInputs g{grounding.boxes.to(p.device()), grounding.positive_embeddings.to(p.device()),
                    grounding.masks.to(p.device())};
  return position_net(g);  // [B, N, cross_attention_dim]
}

void UNet2DConditionImpl::set_fusers_enabled(bool enabled) {
  for (auto& f : fusers_) f->enabled = enabled;
}

bool UNet2DConditionImpl::fusers_enabled() const {
  for (const auto& f : fusers_)
    if (!f->enabled) return false;
  return !fusers_.empty();
}

torch::Tensor UNet2DConditionImpl::forward(const torch::Tensor& sample, const torch::Tensor& timestep,
                                           const torch::Tensor& encoder_hidden_states,
                                           const GroundingInputs* grounding) {
  torch::Tensor objs;
  if (grounding) objs = grounding_tokens(*grounding);
  return forward_with_objs(sample, timestep, encoder_hidden_states, objs);
}

torch::Tensor UNet2DConditionImpl::forward(const torch::Tensor& sample, double timestep,
                                           const torch::Tensor& encoder_hidden_states,
                                           const GroundingInputs* grounding) {
  // diffusers turns a Python float into a float64 tensor (an int into int64): same embedding.
  return forward(sample, torch::tensor(timestep, torch::kFloat64), encoder_hidden_states, grounding);
}

torch::Tensor UNet2DConditionImpl::forward_with_objs(const torch::Tensor& sample_in, const torch::Tensor& timestep,
                                                     const torch::Tensor& encoder_hidden_states,
                                                     const torch::Tensor& objs) {
  if (sample_in.dim() != 4 || sample_in.size(1) != config_.in_channels)
    throw Error("UNet input must be [batch, " + std::to_string(config_.in_channels) + ", height, width], got " +
                c10::str(sample_in.sizes()));
  const int64_t B = sample_in.size(0);
  if (encoder_hidden_states.dim() != 3 || encoder_hidden_states.size(0) != B ||
      encoder_hidden_states.size(2) != config_.cross_attention_dim[0])
    throw Error("UNet text conditioning must be [" + std::to_string(B) + ", tokens, " +
                std::to_string(config_.cross_attention_dim[0]) + "], got " + c10::str(encoder_hidden_states.sizes()));
  if (objs.defined()) {
    require_grounding_layers();
    if (objs.dim() != 3 || objs.size(0) != B)
      throw Error("grounding inputs have batch " + std::to_string(objs.size(0)) + " but the UNet input has batch " +
                  std::to_string(B));
  }

  // With n up stages that upsample, latent sides that are not multiples of 2^(n-1) need the
  // upsamplers to match each skip's size exactly (odd sides round up on the way down).
  const int64_t up_factor = int64_t(1) << std::max<int64_t>(static_cast<int64_t>(up_.size()) - 1, 0);
  const bool forward_upsample_size = sample_in.size(2) % up_factor != 0 || sample_in.size(3) % up_factor != 0;

  torch::Tensor sample = sample_in;
  if (config_.center_input_sample) sample = sample * 2.0 - 1.0;

  // Timesteps: a scalar or [1] is broadcast to the batch.
  torch::Tensor t = timestep.to(sample.device());
  if (t.dim() == 0) t = t.unsqueeze(0);
  if (t.dim() != 1 || (t.size(0) != 1 && t.size(0) != B))
    throw Error("timestep must be a scalar or have one entry per batch item (" + std::to_string(B) + "), got shape " +
                c10::str(timestep.sizes()));
  t = t.expand({B});
  // time_proj is float32; time_embedding runs in the sample's dtype (fp16/bf16 on CUDA).
  auto t_emb = time_proj(t).to(sample.scalar_type());  // [B, C0]
  UNetContext ctx;
  ctx.temb = time_embedding(t_emb);  // [B, 4*C0]
  ctx.text = encoder_hidden_states.to(sample.scalar_type());
  if (objs.defined()) ctx.objs = objs.to(sample.scalar_type());

  sample = conv_in(sample);  // [B, C0, H, W]
  std::vector<torch::Tensor> skips{sample};
  for (auto& block : down_) {
    sample = block->forward(sample, ctx, skips);
    done_with(*block);
  }
  if (mid_block) {
    sample = mid_block(sample, ctx);  // [B, C_last, H/2^(n-1), W/2^(n-1)]
    done_with(*mid_block);
  }
  for (size_t i = 0; i < up_.size(); ++i) {
    const bool is_final = i + 1 == up_.size();
    std::optional<std::vector<int64_t>> upsample_size;
    // After this stage consumes its skips, the next skip on the stack has the target size.
    if (!is_final && forward_upsample_size) {
      const size_t next = skips.size() - static_cast<size_t>(up_[i]->num_layers()) - 1;
      upsample_size = std::vector<int64_t>{skips[next].size(2), skips[next].size(3)};
    }
    sample = up_[i]->forward(sample, ctx, skips, upsample_size);
    done_with(*up_[i]);
  }
  sample = conv_norm_out(sample);
  sample = apply_activation(act_, sample);
  sample = conv_out(sample);  // [B, out_channels, H, W]
  // The small layers around the blocks (the position net ran before forward_with_objs).
  using Layers = std::initializer_list<const torch::nn::Module*>;
  for (const auto* m : Layers{conv_in.get(), time_embedding.get(), conv_norm_out.get(), conv_out.get()}) done_with(*m);
  if (position_net) done_with(*position_net);
  return sample;
}

void UNet2DConditionImpl::done_with(const torch::nn::Module& block) const {
  if (release_weights_) io::release_mapped_weights(block);
}

UNet2DCondition load_unet(const std::string& unet_dir, torch::Device device, torch::ScalarType dtype,
                          MapAccess mapping) {
  namespace fs = std::filesystem;
  const fs::path dir(unet_dir);
  if (!fs::is_directory(dir)) throw Error("UNet folder not found: " + unet_dir);
  UNetConfig config = load_unet_config((dir / "config.json").string());
  // safetensors (an fp16-only folder too, sharded) or .bin; load_strict converts dtypes.
  io::WeightLoadOptions load;
  load.mapping = mapping;
  io::StateDict weights = io::load_component_weights(unet_dir, load);
  torch::NoGradGuard no_grad;
  UNet2DCondition unet(config);
  io::load_strict(*unet, weights, "UNet (" + unet_dir + ")", {}, io::WeightSharing::ShareWhenPossible);
  weights.clear();
  unet->to(device, dtype);
  unet->eval();
  return unet;
}

}  // namespace gligen::nets
