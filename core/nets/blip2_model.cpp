#include "core/nets/blip2_model.h"

#include <filesystem>
#include <limits>

#include "core/io/state_dict.h"
#include "core/io/weights.h"
#include "core/util/error.h"

namespace gligen::nets {

Blip2ForConditionalGenerationImpl::Blip2ForConditionalGenerationImpl(const Blip2Config& c) : config_(c) {
  vision_model = register_module("vision_model", Blip2VisionModel(c.vision));
  query_tokens = register_parameter("query_tokens", torch::empty({1, c.num_query_tokens, c.qformer.hidden_size}));
  qformer = register_module("qformer", Blip2QFormerModel(c.qformer));
  language_projection = register_module("language_projection", BareLinear(c.qformer.hidden_size, c.text.d_model));
  language_model = register_module("language_model", T5ForConditionalGeneration(c.text));
}

Blip2Encoding Blip2ForConditionalGenerationImpl::encode(const torch::Tensor& pixel_values, bool keep_stages) {
  if (config_.text.bos_token_id < 0 || config_.text.bos_token_id >= config_.text.vocab_size) {
    throw Error(
        "the BLIP-2 text_config has no usable bos_token_id; BLIP-2 appends it to the query embeddings "
        "(Flan-T5 checkpoints use 1). Use the config.json that came with the model.");
  }
  Blip2Encoding e;
  const int64_t b = pixel_values.size(0);
  e.vision = vision_model->forward(pixel_values, keep_stages);  // [B, T, Dv]
  auto queries = query_tokens.expand({b, -1, -1});              // [B, Q, Dq]
  e.qformer = qformer->forward(queries, e.vision.last_hidden_state, keep_stages);
  e.language_projection =
      language_projection->forward(e.qformer.last_hidden_state.to(language_projection->weight.scalar_type()));
  // generate() appends the bos token as the prompt: [B, Q, Dt] ++ shared[bos] [B, 1, Dt]
  auto bos = torch::full({b, 1}, config_.text.bos_token_id,
                         torch::TensorOptions().dtype(torch::kLong).device(pixel_values.device()));
  auto bos_embeds = language_model->shared->forward(bos);
  e.inputs_embeds = torch::cat({e.language_projection, bos_embeds.to(e.language_projection.scalar_type())}, 1);
  e.encoder_hidden = language_model->encoder->encode(e.inputs_embeds, keep_stages ? &e.encoder_blocks : nullptr,
                                                     keep_stages ? &e.encoder_position_bias : nullptr);
  if (!keep_stages) e.vision = {};  // drop the image embeds early in plain runs
  return e;
}

torch::Tensor Blip2ForConditionalGenerationImpl::generate(const torch::Tensor& pixel_values,
                                                          Blip2GenerationTrace* trace) {
  return generate_from(encode(pixel_values), trace);
}

torch::Tensor Blip2ForConditionalGenerationImpl::generate_from(const Blip2Encoding& encoding,
                                                               Blip2GenerationTrace* trace) {
  const T5Config& t = config_.text;
  const auto device = encoding.encoder_hidden.device();
  const int64_t b = encoding.encoder_hidden.size(0);
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto cache = language_model->decoder->start_cache(encoding.encoder_hidden);
  auto sequences = torch::full({b, 1}, t.start_token_id(), long_opts);  // [B, 1]
  auto unfinished = torch::ones({b}, long_opts);
  auto next_input = sequences;
  while (sequences.size(1) < t.max_length) {
    std::vector<torch::Tensor> blocks;
    torch::Tensor final_hidden;
    auto logits =
        language_model->decoder_logits(next_input, cache, trace ? &blocks : nullptr, trace ? &final_hidden : nullptr);
    auto step_logits = logits.select(1, logits.size(1) - 1);  // [B, V]
    if (sequences.size(1) < t.min_length) {
      // MinLengthLogitsProcessor: no EOS before min_length ids.
      step_logits = step_logits.clone();
      step_logits.select(1, t.eos_token_id).fill_(-std::numeric_limits<double>::infinity());
    }
    if (trace) {
      trace->logits.push_back(step_logits.to(torch::kFloat));
      trace->decoder_final.push_back(final_hidden.select(1, final_hidden.size(1) - 1));
      std::vector<torch::Tensor> last;
      for (const auto& h : blocks) last.push_back(h.select(1, h.size(1) - 1));
      trace->decoder_blocks.push_back(std::move(last));
    }
    // Greedy: the first index of the maximum; finished rows get the pad token.
    auto next = step_logits.argmax(-1);
    next = next * unfinished + t.pad_token_id * (1 - unfinished);
    sequences = torch::cat({sequences, next.unsqueeze(1)}, 1);
    unfinished = unfinished * next.ne(t.eos_token_id).to(torch::kLong);
    if (unfinished.max().item<int64_t>() == 0) break;
    next_input = next.unsqueeze(1);
  }
  return sequences.to(torch::kCPU);
}

torch::Tensor Blip2ForConditionalGenerationImpl::teacher_forced_logits(const Blip2Encoding& encoding,
                                                                       const torch::Tensor& decoder_input_ids,
                                                                       std::vector<torch::Tensor>* block_outputs,
                                                                       torch::Tensor* decoder_final) {
  auto cache = language_model->decoder->start_cache(encoding.encoder_hidden);
  return language_model->decoder_logits(decoder_input_ids.to(encoding.encoder_hidden.device()), cache, block_outputs,
                                        decoder_final);
}

std::set<std::string> blip2_ignored_keys(const Blip2Config& config) {
  return t5_tied_aliases(config.text, "language_model.");
}

Blip2ForConditionalGeneration load_blip2_model(const std::string& folder, torch::Device device, torch::ScalarType dtype,
                                               MapAccess mapping) {
  if (!std::filesystem::is_directory(folder)) {
    throw Error("BLIP-2 folder " + folder +
                " does not exist. Point to the downloaded Hugging Face folder "
                "(e.g. Salesforce/blip2-flan-t5-xl).");
  }
  const Blip2Config config = load_blip2_config(folder);
  torch::NoGradGuard no_grad;
  Blip2ForConditionalGeneration model(config);
  if (dtype != torch::kFloat32 || !device.is_cpu()) {
    // Give the (still untouched) parameters their final dtype and device before loading: weights
    // stored in that dtype are then shared with the file mapping, others are converted straight
    // into place, and no float32 copy of the whole model (49 GB for xxl) is ever made.
    for (auto& p : model->parameters()) p.set_data(torch::empty(p.sizes(), p.options().dtype(dtype).device(device)));
  }
  io::WeightLoadOptions load;
  load.mapping = mapping;
  const io::StateDict weights = io::load_component_weights(folder, load);
  io::load_strict(*model, weights, "the BLIP-2 model in " + folder, blip2_ignored_keys(config),
                  io::WeightSharing::ShareWhenPossible);
  model->to(device, dtype);
  if (dtype == torch::kFloat16) {
    // transformers keeps T5's feed-forward output projection in float32 (_keep_in_fp32_modules):
    // take those weights from the checkpoint again rather than from their float16 rounding.
    const std::string suffix = ".DenseReluDense.wo.weight";
    for (auto& p : model->named_parameters()) {
      const std::string& name = p.key();
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        p.value().set_data(weights.at(name).to(device, torch::kFloat32));
      }
    }
  }
  model->eval();
  return model;
}

}  // namespace gligen::nets
