// Memory mapping of a whole file. Weights are mapped, not copied, where dtype allows; tensors
// made from a mapping hold a shared_ptr to it so the mapping lives as long as they do.
//
// Two kinds of mapping:
//  - CopyOnWrite (PROT_READ | PROT_WRITE, MAP_PRIVATE): an in-place write (a trained parameter)
//    copies just the page it touches into private memory; the file is never modified.
//  - ReadOnly (PROT_READ, MAP_PRIVATE): any write faults (SIGSEGV), so every resident page is a
//    clean page of the kernel's page cache. Only such pages can be dropped from the process's
//    resident set again (release_pages) without losing anything: the next read maps them back
//    from the page cache (a minor fault, or a re-read of the file under memory pressure).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gligen {

enum class MapAccess { CopyOnWrite, ReadOnly };

class MappedFile {
 public:
  // Throws gligen::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path, MapAccess access = MapAccess::CopyOnWrite);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  MapAccess access() const { return access_; }

  // Drops the whole pages of [p, p + n) from this process's resident memory when the range lies
  // inside one live ReadOnly mapping (rounding inward: pages shared with bytes outside the range
  // stay). Returns the bytes released: 0 for memory that is not part of a ReadOnly mapping (heap,
  // copy-on-write mappings, device memory), which is never touched. The caller must keep the
  // mapping alive during the call (e.g. hold a tensor that points into it). Safe while other
  // threads read the range: they just fault the pages back in.
  static std::size_t release_pages(const void* p, std::size_t n);

 private:
  MappedFile() = default;
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  MapAccess access_ = MapAccess::CopyOnWrite;
};

}  // namespace gligen
