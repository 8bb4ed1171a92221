// diffusers' UNet2DConditionModel (v0.27.2) for the SD 1.x family, with the GLIGEN text-box
// grounding layers when attention_type is "gated": a position net (position_net) and a gated
// self-attention fuser in every transformer block. Submodules carry the diffusers attribute
// names, so named_parameters() equals the checkpoint's keys (conv_in, time_embedding, down_blocks,
// up_blocks, mid_block, conv_norm_out, conv_out, position_net).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/nets/embeddings.h"
#include "core/nets/gligen.h"
#include "core/nets/unet_blocks.h"
#include "core/nets/unet_config.h"
#include "core/util/mapped_file.h"

namespace gligen::nets {

class UNet2DConditionImpl : public torch::nn::Module {
 public:
  // Builds the architecture with freshly initialised weights (load them with load_strict).
  explicit UNet2DConditionImpl(const UNetConfig& config);

  // sample: [B, in_channels, H, W]; timestep: scalar or [B] (or [1]) tensor, integer or float;
  // encoder_hidden_states: [B, T, cross_attention_dim]. `grounding` = null runs without the
  // fusers (diffusers without cross_attention_kwargs); otherwise the position net computes the
  // grounding tokens and every enabled fuser uses them. Returns [B, out_channels, H, W].
  // Throws gligen::Error for grounding on a UNet without GLIGEN layers or mis-shaped inputs.
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timestep,
                        const torch::Tensor& encoder_hidden_states, const GroundingInputs* grounding = nullptr);
  torch::Tensor forward(const torch::Tensor& sample, double timestep, const torch::Tensor& encoder_hidden_states,
                        const GroundingInputs* grounding = nullptr);

  // The same with grounding tokens computed beforehand by grounding_tokens() (undefined = none).
  torch::Tensor forward_with_objs(const torch::Tensor& sample, const torch::Tensor& timestep,
                                  const torch::Tensor& encoder_hidden_states, const torch::Tensor& objs);

  // position_net(boxes, masks, positive_embeddings): [B, N, cross_attention_dim].
  torch::Tensor grounding_tokens(const GroundingInputs& grounding);

  // Scheduled sampling: turns every fuser on or off (GatedSelfAttentionDense.enabled). The state
  // persists across calls, as in diffusers.
  void set_fusers_enabled(bool enabled);
  bool fusers_enabled() const;
  int64_t fuser_count() const { return static_cast<int64_t>(fusers_.size()); }

  // Weight streaming for CPU inference on weights loaded with MapAccess::ReadOnly: when on,
  // forward hands each block's mapped weight pages back (io::release_mapped_weights) as soon as
  // the block has run (conv_in, time embedding, position net and the output layers at the end),
  // so only the running block's weights plus activations are resident at a time. Results are
  // bit-identical; weights that are not in ReadOnly mappings (CUDA, copies, training) are untouched.
  void set_release_weights(bool on) { release_weights_ = on; }
  bool release_weights() const { return release_weights_; }

  bool is_gated() const { return config_.is_gated(); }
  const UNetConfig& config() const { return config_; }

  torch::nn::Conv2d conv_in{nullptr};
  Timesteps time_proj{nullptr};
  TimestepEmbedding time_embedding{nullptr};
  torch::nn::ModuleList down_blocks{nullptr}, up_blocks{nullptr};
  MidBlockCrossAttn mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};
  PositionNet position_net{nullptr};

 private:
  void require_grounding_layers() const;
  void done_with(const torch::nn::Module& block) const;

  UNetConfig config_;
  Activation act_;
  std::vector<DownBlock> down_;
  std::vector<UpBlock> up_;
  std::vector<GatedSelfAttentionDense> fusers_;
  bool release_weights_ = false;
};
TORCH_MODULE(UNet2DCondition);

// Reads <unet_dir>/config.json and the weights (diffusion_pytorch_model.safetensors), builds the
// UNet, loads the weights strictly (every missing, unexpected or mis-shaped key is listed in one
// gligen::Error) and moves it to `device` / `dtype`, in eval mode. `mapping`: how the weight
// files are mapped (ReadOnly for inference with set_release_weights; CopyOnWrite for training).
UNet2DCondition load_unet(const std::string& unet_dir, torch::Device device = torch::kCPU,
                          torch::ScalarType dtype = torch::kFloat32, MapAccess mapping = MapAccess::CopyOnWrite);

}  // namespace gligen::nets
