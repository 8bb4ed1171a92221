// Random-initialised BLIP-2 (Flan-T5) folders with the real checkpoints' tensor names and shapes,
// for loading, memory and speed checks without the 15-50 GB downloads. The captions are noise.
//
// What is written: config.json (the release's configuration), preprocessor_config.json,
// generation_config.json, the weights as save_pretrained lays them out (the tied embed_tokens
// aliases left out; model.safetensors, or model-0000k-of-0000n.safetensors shards plus
// model.safetensors.index.json above the shard size), and a T5 tokenizer. The real Flan-T5
// spiece.model cannot be shipped or downloaded here, so unless a tokenizer folder is given the
// tokenizer is synthetic (core/tokenizer/spiece_writer.h): T5's special ids and size (32000
// pieces + 100 sentinels), meaningless pieces. The lm_head rows of the 28 ids past the tokenizer
// (32100..32127, padding of the model vocabulary) are zero, so random weights never pick an id
// the tokenizer cannot decode.
//
// Weights are generated and written one tensor at a time: the 12.2 B-parameter xxl preset needs
// about one embedding matrix of memory, not 49 GB. No LibTorch in this header.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gligen::nets {

// "blip2-flan-t5-xl" (T5-XL: d_model 2048, 3.9 B parameters) and "blip2-flan-t5-xxl"
// (T5-XXL: d_model 4096, 12.2 B parameters), both with the EVA ViT-g and the 12-layer Q-Former.
const std::vector<std::string>& blip2_preset_names();

// config.json of a preset, as the released folder has it. Throws gligen::Error for an unknown name.
nlohmann::json blip2_preset_config(const std::string& preset);

struct Blip2PresetOptions {
  std::uint64_t seed = 0;
  // float32 (as released), float16 or bfloat16: the dtype of every tensor written.
  std::string dtype = "float32";
  // Copy the tokenizer files (spiece.model, tokenizer_config.json, special_tokens_map.json,
  // added_tokens.json, tokenizer.json) from this folder, e.g. a Salesforce/blip2-flan-t5-xl or
  // google/flan-t5-xl download; empty: write the synthetic tokenizer.
  std::string tokenizer_from;
  // Shard the weights above this many bytes per file (save_pretrained's default, 5 GB).
  std::uint64_t max_shard_bytes = 5'000'000'000ULL;
};

// A tensor of the checkpoint: name and shape.
struct Blip2TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// The tensors save_pretrained writes for a BLIP-2 config.json (the tied embed_tokens aliases left
// out), in name order, taken from the model class the loader builds. Cheap in memory: the
// module's parameters are allocated but never touched.
std::vector<Blip2TensorSpec> blip2_checkpoint_tensors(const nlohmann::json& config);

// Writes a random-weight folder for any BLIP-2 config.json (a preset's, or a tiny one in tests)
// into `out_dir` (created; must be empty or absent). Throws gligen::Error.
void write_blip2_random_folder(const nlohmann::json& config, const std::string& out_dir,
                               const Blip2PresetOptions& options = {},
                               const std::function<void(const std::string&)>& status = {});

// write_blip2_random_folder with a preset's config.
void write_blip2_preset(const std::string& preset, const std::string& out_dir, const Blip2PresetOptions& options = {},
                        const std::function<void(const std::string&)>& status = {});

}  // namespace gligen::nets
