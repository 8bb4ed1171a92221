// safetensors reading and writing (https://github.com/huggingface/safetensors format):
// 8-byte little-endian header length N, N bytes of UTF-8 JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then data.
// Reading memory-maps the file; tensors whose data is suitably aligned point into the mapping
// (zero copy), others are copied. Every malformed file gets a gligen::Error naming the file.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/io/state_dict.h"
#include "core/util/mapped_file.h"

namespace gligen::io {

struct SafetensorsFile {
  StateDict tensors;                            // in file (offset) order of names
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Throws gligen::Error when the file is missing or malformed. `access` is the kind of mapping the
// zero-copy tensors point into (core/util/mapped_file.h).
SafetensorsFile read_safetensors(const std::string& path, MapAccess access = MapAccess::CopyOnWrite);

// Parses a safetensors image held in memory (the same validation as read_safetensors). `name`
// is used in error messages. The returned tensors are copies.
SafetensorsFile parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& name);

// Writes tensors (made contiguous, on CPU) with the given metadata. Writes to `path + ".tmp"`,
// fsyncs and renames, so a crash never leaves a half-written file under `path`.
void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace gligen::io
