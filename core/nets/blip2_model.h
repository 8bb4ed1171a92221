// transformers' Blip2ForConditionalGeneration (v4.40) with a T5 language model: ViT image
// encoder -> Q-Former queries cross-attending to the image -> language_projection -> T5 encoder
// (with the bos token appended, as generate() does) -> greedy T5 decoding.
//
// Module names are the checkpoint's: vision_model.*, query_tokens, qformer.*,
// language_projection.{weight,bias}, language_model.* (see vit.h, qformer.h, t5.h).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/nets/blip2_config.h"
#include "core/nets/qformer.h"
#include "core/nets/t5.h"
#include "core/nets/vit.h"
#include "core/util/mapped_file.h"

namespace gligen::nets {

// What the T5 encoder sees for a batch of images, and the stages on the way (the stage fields
// are filled only when asked for).
struct Blip2Encoding {
  Blip2VisionOutput vision;
  QFormerOutputs qformer;
  torch::Tensor language_projection;          // [B, Q, Dt]
  torch::Tensor inputs_embeds;                // [B, Q + 1, Dt]: projection, then shared[bos]
  std::vector<torch::Tensor> encoder_blocks;  // [B, Q + 1, Dt] each (stages only)
  torch::Tensor encoder_position_bias;        // [1, H, Q + 1, Q + 1] (stages only)
  torch::Tensor encoder_hidden;               // [B, Q + 1, Dt] T5 encoder output
};

// Per-step records of a greedy run (for parity tests and debugging).
struct Blip2GenerationTrace {
  std::vector<torch::Tensor> logits;                       // per step: [B, V]
  std::vector<torch::Tensor> decoder_final;                // per step: [B, Dt]
  std::vector<std::vector<torch::Tensor>> decoder_blocks;  // per step, per block: [B, Dt]
};

class Blip2ForConditionalGenerationImpl : public torch::nn::Module {
 public:
  explicit Blip2ForConditionalGenerationImpl(const Blip2Config& config);

  // pixel_values: [B, 3, S, S] -> everything up to the T5 encoder output.
  Blip2Encoding encode(const torch::Tensor& pixel_values, bool keep_stages = false);

  // Greedy decoding as language_model.generate(inputs_embeds, attention_mask) with the T5
  // config's generation settings: starts from decoder_start_token_id, stops a sequence at EOS
  // (kept) and the batch when all stopped or max_length ids (start token included) exist.
  // Finished rows are padded with pad_token_id, as transformers does. -> [B, L] int64 on CPU.
  torch::Tensor generate(const torch::Tensor& pixel_values, Blip2GenerationTrace* trace = nullptr);
  // The same from an encoding.
  torch::Tensor generate_from(const Blip2Encoding& encoding, Blip2GenerationTrace* trace = nullptr);

  // One decoder pass without cache over decoder_input_ids [B, T] (teacher forcing): logits [B, T, V].
  torch::Tensor teacher_forced_logits(const Blip2Encoding& encoding, const torch::Tensor& decoder_input_ids,
                                      std::vector<torch::Tensor>* block_outputs = nullptr,
                                      torch::Tensor* decoder_final = nullptr);

  const Blip2Config& config() const { return config_; }

  Blip2VisionModel vision_model{nullptr};
  torch::Tensor query_tokens;  // [1, Q, Dq]
  Blip2QFormerModel qformer{nullptr};
  BareLinear language_projection{nullptr};
  T5ForConditionalGeneration language_model{nullptr};

 private:
  Blip2Config config_;
};
TORCH_MODULE(Blip2ForConditionalGeneration);

// Checkpoint keys that alias another tensor and are dropped on load.
std::set<std::string> blip2_ignored_keys(const Blip2Config& config);

// Reads `<folder>/config.json` and the weights (model.safetensors, sharded
// model.safetensors.index.json, or pytorch_model.bin / its index), loads them strictly (every
// missing, unexpected or mis-shaped key in one gligen::Error), moves the model to device/dtype and
// puts it in eval mode. With float16, T5's feed-forward `wo` weights stay float32 as transformers
// keeps them (_keep_in_fp32_modules).
Blip2ForConditionalGeneration load_blip2_model(const std::string& folder, torch::Device device = torch::kCPU,
                                               torch::ScalarType dtype = torch::kFloat32,
                                               MapAccess mapping = MapAccess::CopyOnWrite);

}  // namespace gligen::nets
