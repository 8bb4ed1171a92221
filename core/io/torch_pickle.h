// Reading PyTorch's torch.save() files (.bin / .pth / .pt): a zip archive holding `<prefix>/data.pkl`
// (a pickle) and one `<prefix>/data/<key>` record per tensor storage. The pickle is evaluated by
// a small, bounds-checked virtual machine that knows only what torch.save writes for plain data
// (dicts, lists, tuples, strings, numbers, tensors, OrderedDict); anything else is refused with a
// gligen::Error naming the file, so a malformed or hostile file never runs code or crashes.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/io/state_dict.h"
#include "core/util/mapped_file.h"

namespace gligen::io {

// A value of the unpickled object tree.
struct PyValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Tensor, Global, Object };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                // String, Bytes; Global: "module.name"
  std::vector<std::shared_ptr<PyValue>> items;  // List, Tuple; Object: [callable, args]
  std::vector<std::pair<std::shared_ptr<PyValue>, std::shared_ptr<PyValue>>> dict;  // insertion order
  torch::Tensor tensor;

  // Dict look-up by string key; null when absent or not a dict.
  std::shared_ptr<PyValue> get(const std::string& key) const;
  std::string kind_name() const;
};
using PyValuePtr = std::shared_ptr<PyValue>;

// The whole object saved with torch.save. Tensors point into the file's memory mapping when
// stored uncompressed and aligned, else are copied.
// `access`: the kind of mapping (core/util/mapped_file.h).
PyValuePtr read_torch_file(const std::string& path, MapAccess access = MapAccess::CopyOnWrite);

// A state dict saved with torch.save (possibly wrapped as {"state_dict": {...}}). Non-tensor
// entries are an error.
StateDict read_torch_bin(const std::string& path, MapAccess access = MapAccess::CopyOnWrite);

}  // namespace gligen::io
