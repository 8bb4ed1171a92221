#include "core/io/resident_weights.h"

#include "core/util/mapped_file.h"

namespace gligen::io {
namespace {

std::size_t release_tensor(const torch::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || !t.has_storage()) return 0;
  const auto& storage = t.storage();
  // The whole storage: a view's neighbours in the same storage belong to the same weight file.
  return MappedFile::release_pages(storage.data(), storage.nbytes());
}

}  // namespace

std::size_t release_mapped_weights(const torch::nn::Module& module) {
  std::size_t released = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) released += release_tensor(p);
  for (const auto& b : module.buffers(/*recurse=*/true)) released += release_tensor(b);
  return released;
}

}  // namespace gligen::io
