// Streaming memory-mapped weights through resident memory: a module whose parameters point into
// ReadOnly file mappings (core/util/mapped_file.h, io::WeightLoadOptions::mapping) can hand their
// pages back after use, so only the weights in use count towards the process's RSS. The pages
// stay in the kernel's page cache; the next forward maps them back with cheap minor faults.
#pragma once
#include <torch/torch.h>

#include <cstddef>

namespace gligen::io {

// Drops the resident pages of every CPU parameter and buffer of `module` (recursively) whose
// storage lies in a ReadOnly file mapping. Everything else — copied or converted tensors, heap
// and device memory, copy-on-write mappings (which may hold written pages) — is left alone, so
// this never changes a value. Returns the bytes released (whole pages, rounded inward).
std::size_t release_mapped_weights(const torch::nn::Module& module);

}  // namespace gligen::io
