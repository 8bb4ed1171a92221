// Finding and reading the weights of one diffusers component folder (unet/, vae/, text_encoder/).
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "core/io/state_dict.h"
#include "core/util/mapped_file.h"

namespace gligen::io {

struct WeightLoadOptions {
  // A diffusers weights variant ("fp16" for `diffusion_pytorch_model.fp16.safetensors`); empty
  // for the plain files.
  std::string variant;
  // When set, every floating-point tensor is converted to this dtype at load (e.g. kFloat32 to
  // upcast an fp16 checkpoint). Integer and bool tensors are left as they are. A tensor that
  // already has the dtype is not copied, so it stays memory-mapped.
  std::optional<torch::ScalarType> float_dtype;
  // The mapping zero-copy tensors point into (core/util/mapped_file.h). ReadOnly for inference:
  // its pages can be released from resident memory (io::release_mapped_weights), and a write into
  // a shared weight faults instead of silently making a private copy. Training needs CopyOnWrite.
  MapAccess mapping = MapAccess::CopyOnWrite;
};

// Looks in `component_dir` for, in this order of variants:
//   1. the variant asked for (`<base>.<variant>.safetensors`, ...), when one is asked for;
//   2. the plain files;
//   3. when no variant is asked for, `.fp16` files (so an fp16-only folder loads as it is);
// and within each variant: `<base>.safetensors`, a sharded `<base>.safetensors.index.json`
// (also diffusers' variant spelling `<base>.safetensors.index.<variant>.json`), then `<base>.bin`,
// a sharded `<base>.bin.index.json`; bases "diffusion_pytorch_model", "model", "pytorch_model".
// Shards named by an index's weight_map are all read and merged; a missing shard, a tensor in
// two shards, or a weight_map tensor absent from its shard is an error.
// Throws gligen::Error listing what was looked for and what the folder holds when nothing is
// found, and naming the file and the problem when a file is damaged.
// Safetensors tensors (and uncompressed, aligned .bin tensors) point into a read-only memory
// mapping of the file: load them into modules with load_strict (copy or share), never write them.
StateDict load_component_weights(const std::string& component_dir, const WeightLoadOptions& options);
StateDict load_component_weights(const std::string& component_dir, const std::string& variant = "");

// The weight files load_component_weights would read (for messages and the model manager).
std::vector<std::string> find_component_weight_files(const std::string& component_dir, const std::string& variant = "");

}  // namespace gligen::io
