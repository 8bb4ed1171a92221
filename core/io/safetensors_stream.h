// Writing safetensors checkpoints larger than memory (random-weight model presets of billions of
// parameters): the header is known up front and the tensors are produced one at a time.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gligen::io {

// One tensor of a file written by write_safetensors_streamed: its name, dtype and shape.
struct SafetensorsEntry {
  std::string name;
  torch::ScalarType dtype = torch::kFloat32;
  std::vector<int64_t> shape;
};

// The safetensors format of write_safetensors (core/io/safetensors.h): the header comes from
// `entries`, then `produce(i)` is called for each entry in order and its tensor (which must have
// that dtype and shape) is written and dropped, so only one tensor is held at a time. Written to
// `path + ".tmp"`, fsynced and renamed. Throws gligen::Error.
void write_safetensors_streamed(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                                const std::function<torch::Tensor(std::size_t)>& produce,
                                const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Bytes of the tensor data of an entry (numel * element size).
std::uint64_t safetensors_entry_bytes(const SafetensorsEntry& entry);

}  // namespace gligen::io
