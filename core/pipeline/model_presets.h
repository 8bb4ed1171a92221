// Random-initialised diffusers GLIGEN folders for tests, demos and benchmarks, written with our
// own safetensors writer. They produce noise: they exist so that the whole flow can be tried and
// timed without downloading weights.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gligen {

// "tiny": the fixtures' tiny architecture (64x64 images); "sd14": SD 1.4 + GLIGEN text-box sizes
// (1.07 G UNet parameters, CLIP ViT-L/14 text tower, SD VAE; about 4.6 GB of fp32 weights);
// "shapes-tiny": the starting point of the shapes demo model (see shapes_tiny_preset_note()),
// meant to be trained from scratch at 64x64 on make-shapes-dataset.
const std::vector<std::string>& model_preset_names();

struct ModelPresetOptions {
  std::uint64_t seed = 0;
  // Copy vocab.json/merges.txt from this tokenizer folder; empty: write a small byte-level
  // tokenizer (see write_byte_level_tokenizer), which any CLIP text encoder can read.
  std::string tokenizer_from;
  // Whole words (lowercase a-z) the written byte-level tokenizer reads as one token each, by
  // merge chains added before anything else (the shapes vocabulary for shapes-tiny).
  std::vector<std::string> tokenizer_words;
};

// What shapes-tiny is, for help texts and model_index.json.
const char* shapes_tiny_preset_note();

// Writes model_index.json, scheduler/, tokenizer/, and unet/, vae/, text_encoder/ with
// config.json and weights into `out_dir` (created; must be empty or absent). Throws gligen::Error.
void write_model_preset(const std::string& preset, const std::string& out_dir, const ModelPresetOptions& options = {},
                        const std::function<void(const std::string&)>& status = {});

// Writes a byte-level CLIP tokenizer folder: vocab.json (the 512 byte symbols, 676 two-letter
// word ends, the two special tokens), merges.txt, tokenizer_config.json, special_tokens_map.json.
// With `words`, each of them also becomes a single token (their merges come first, ordered so
// that no word's merges break another's); throws gligen::Error for a word that is not a-z or
// cannot be made one token.
void write_byte_level_tokenizer(const std::string& dir, const std::vector<std::string>& words = {});

}  // namespace gligen
