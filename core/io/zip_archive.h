// Read-only zip archive over a memory-mapped file: stored and deflated entries, zip64 sizes and
// offsets (torch.save writes zip64 records for files over 4 GB). Every offset is bounds-checked.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/util/mapped_file.h"

namespace gligen::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    std::uint16_t method = 0;  // 0 stored, 8 deflate
    std::uint64_t compressed_size = 0, size = 0;
    std::uint64_t data_offset = 0;  // of the (compressed) data in the file
  };

  // Throws gligen::Error naming the file when it is not a readable zip archive. `access`: the
  // kind of mapping stored entries point into (core/util/mapped_file.h).
  explicit ZipArchive(const std::string& path, MapAccess access = MapAccess::CopyOnWrite);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // Pointer to a stored entry's bytes inside the mapping (no copy); null for compressed entries.
  const std::uint8_t* stored_data(const Entry& e) const;
  // The entry's bytes (inflated when compressed).
  std::vector<std::uint8_t> read(const Entry& e) const;
  const std::shared_ptr<MappedFile>& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::shared_ptr<MappedFile> file_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> by_name_;
};

}  // namespace gligen::io
