#include "core/util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "core/util/error.h"

namespace gligen {
namespace {

// The live ReadOnly mappings: start address -> end address. Only ranges inside these may be
// released, which is what keeps release_pages from ever discarding written (private) memory.
struct ReadOnlyRegistry {
  std::mutex mutex;
  std::map<std::uintptr_t, std::uintptr_t> ranges;
};

ReadOnlyRegistry& registry() {
  static ReadOnlyRegistry* r = new ReadOnlyRegistry();  // never destroyed: mappings may outlive statics
  return *r;
}

std::uintptr_t page_size() {
  static const std::uintptr_t size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, MapAccess access) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error("cannot open '" + path + "': " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error("cannot read the size of '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("'" + path + "' is not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<std::size_t>(st.st_size);
  file->access_ = access;
  if (file->size_ > 0) {
    // Private mapping either way: tensors may point straight into it (weights shared with the
    // page cache) and the file itself is never modified (see the header for the two kinds).
    const int prot = access == MapAccess::ReadOnly ? PROT_READ : PROT_READ | PROT_WRITE;
    void* p = ::mmap(nullptr, file->size_, prot, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error("cannot map '" + path + "' into memory: " + std::strerror(err));
    }
    file->data_ = static_cast<const std::uint8_t*>(p);
    if (access == MapAccess::ReadOnly) {
      auto& r = registry();
      std::lock_guard<std::mutex> lock(r.mutex);
      const auto begin = reinterpret_cast<std::uintptr_t>(p);
      r.ranges[begin] = begin + file->size_;
    }
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    if (access_ == MapAccess::ReadOnly) {
      auto& r = registry();
      std::lock_guard<std::mutex> lock(r.mutex);
      r.ranges.erase(reinterpret_cast<std::uintptr_t>(data_));
    }
    ::munmap(const_cast<std::uint8_t*>(data_), size_);
  }
}

std::size_t MappedFile::release_pages(const void* p, std::size_t n) {
  if (p == nullptr || n == 0) return 0;
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const auto end = begin + n;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.ranges.upper_bound(begin);  // the first mapping starting after `begin`
    if (it == r.ranges.begin()) return 0;
    --it;                            // the last mapping starting at or before `begin`
    if (end > it->second) return 0;  // not (entirely) inside a ReadOnly mapping
  }
  // Inward rounding: a page that also holds bytes outside [p, p + n) stays resident.
  const std::uintptr_t ps = page_size();
  const std::uintptr_t first = (begin + ps - 1) / ps * ps;
  const std::uintptr_t last = end / ps * ps;
  if (last <= first) return 0;
  // MADV_DONTNEED on a read-only private file mapping only unmaps clean page-cache pages (there
  // can be no private copies: the mapping was never writable). The data stays in the page cache.
  if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
  return last - first;
}

}  // namespace gligen
