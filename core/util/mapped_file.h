// Copy-on-write memory mapping of a whole file (writes stay private to this process). Weights are mapped, not copied, where dtype allows;
// tensors made from a mapping hold a shared_ptr to it so the mapping lives as long as they do.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gligen {

class MappedFile {
 public:
  // Throws gligen::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace gligen
