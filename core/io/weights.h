// Finding and reading the weights of one diffusers component folder (unet/, vae/, text_encoder/).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/io/state_dict.h"

namespace gligen::io {

// Looks, in this order, for: <base>.safetensors; <base>.<variant>.safetensors (the variant asked
// for, or "fp16" when that is all the folder has); a sharded <base>[.<variant>].safetensors.index.json;
// <base>.bin, or a sharded <base>.bin.index.json — for base "diffusion_pytorch_model", "model" and
// "pytorch_model". With a variant asked for, the variant files come first. Throws gligen::Error
// listing what was looked for and what the folder holds when nothing is found, and naming the
// file and problem when a file is damaged (a missing shard included).
StateDict load_component_weights(const std::string& component_dir, const std::string& variant = "");

// The weight files load_component_weights would read (for messages and the model manager).
std::vector<std::string> find_component_weight_files(const std::string& component_dir, const std::string& variant = "");

}  // namespace gligen::io
