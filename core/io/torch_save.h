// Writing files that Python's torch.load() reads (the zip form of torch.save, PyTorch >= 1.6):
//   <archive>/data.pkl     pickle protocol 2 of the object tree; tensors are persistent ids
//                          ('storage', torch.<Type>Storage, key, 'cpu', numel) rebuilt by
//                          torch._utils._rebuild_tensor_v2
//   <archive>/data/<key>   raw little-endian bytes of one storage, stored (not deflated), its data
//                          starting at a 64-byte aligned offset as PyTorch's writer does, so readers
//                          can map tensors in place
//   <archive>/version      "3\n"
// Zip64 records are written when an offset or size needs them (a COCO-sized dataset list with
// 768-d embeddings is several GB). Tensor records are streamed to disk as they are pickled, so a
// large list is never held twice in memory. The file appears atomically: it is written to
// `<path>.partial`, flushed to disk, then renamed.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/io/torch_pickle.h"

namespace gligen::io {

// Streams one object tree. Call the value functions in the order the tree is walked:
//   w.begin_list(); { w.begin_dict(); w.key("a"); w.value(1.0); w.end_dict(); } w.end_list(); w.finish();
// Inside a dict, key() must precede each value. Misuse is a programming error (TORCH_CHECK).
class TorchFileWriter {
 public:
  explicit TorchFileWriter(std::string path, std::string archive_name = "archive");
  ~TorchFileWriter();  // an unfinished file is removed
  TorchFileWriter(const TorchFileWriter&) = delete;
  TorchFileWriter& operator=(const TorchFileWriter&) = delete;

  void begin_list();
  void end_list();
  void begin_dict();
  void end_dict();
  void key(const std::string& k);
  void none();
  void value(bool b);
  void value(int64_t i);
  void value(int i) { value(static_cast<int64_t>(i)); }
  void value(double f);
  void value(const std::string& s);
  void value(const char* s) { value(std::string(s)); }
  // Any CPU or device tensor; written contiguous, as its own storage.
  void tensor(const torch::Tensor& t);
  // A list of Python floats (e.g. the seed's bbox lists).
  void float_list(const std::vector<double>& values);

  // Writes data.pkl, version and the central directory, then renames into place. Throws
  // gligen::Error when the disk is full or the folder cannot be written.
  void finish();

 private:
  struct Frame {
    bool is_dict;
    bool expecting_value;
  };
  struct CentralEntry {
    std::string name;
    std::uint32_t crc;
    std::uint64_t size;
    std::uint64_t offset;
  };
  void op(std::uint8_t code) { pickle_.push_back(code); }
  void raw(const void* p, size_t n);
  void before_value();
  void after_value();
  void write_record(const std::string& name, const void* data, std::uint64_t size);
  void write_bytes(const void* data, std::uint64_t size);
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_, partial_, archive_;
  std::FILE* file_ = nullptr;
  std::uint64_t offset_ = 0;
  std::vector<std::uint8_t> pickle_;
  std::vector<Frame> frames_;
  std::vector<CentralEntry> entries_;
  int64_t next_storage_ = 0;
  bool root_done_ = false;
  bool finished_ = false;
};

// Convenience: writes a whole PyValue tree (None, Bool, Int, Float, String, List, Tuple as list,
// Dict with string keys, Tensor).
void write_torch_file(const std::string& path, const PyValue& root);

// Small builders for PyValue trees.
PyValuePtr py_int(int64_t i);
PyValuePtr py_float(double f);
PyValuePtr py_str(std::string s);
PyValuePtr py_list(std::vector<PyValuePtr> items = {});
PyValuePtr py_dict(std::vector<std::pair<std::string, PyValuePtr>> items = {});
PyValuePtr py_tensor(torch::Tensor t);

}  // namespace gligen::io
