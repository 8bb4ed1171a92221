// Random-initialised Grounding DINO folders with the real architectures, names and shapes, for
// loading and speed checks without downloads (they detect nothing meaningful).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gligen::detect {

// "grounding-dino-base" (Swin-B 384, window 12; 232 M parameters, about 0.93 GB) and
// "grounding-dino-tiny" (Swin-T 224, window 7), as transformers' conversion script configures them.
const std::vector<std::string>& grounding_dino_preset_names();

struct GroundingDinoPresetOptions {
  std::uint64_t seed = 0;
  // Copy vocab.txt / tokenizer_config.json / special_tokens_map.json from this BERT tokenizer
  // folder (e.g. a bert-base-uncased download); empty: write a character-level vocabulary of
  // 30522 entries that keeps bert-base-uncased's special ids ([CLS] 101, [SEP] 102, '.' 1012, '?' 1029).
  std::string tokenizer_from;
};

// Writes config.json, model.safetensors (save_pretrained's tensor set: the tied box-head copies
// left out), preprocessor_config.json and the tokenizer files into `out_dir` (created; must be
// empty or absent). Throws gligen::Error.
void write_grounding_dino_preset(const std::string& preset, const std::string& out_dir,
                                 const GroundingDinoPresetOptions& options = {},
                                 const std::function<void(const std::string&)>& status = {});

}  // namespace gligen::detect
