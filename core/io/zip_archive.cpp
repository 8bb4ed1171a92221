#include "core/io/zip_archive.h"

#include <zlib.h>

#include <cstring>

#include "core/util/error.h"

namespace gligen::io {
namespace {

std::uint16_t u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t u32(const std::uint8_t* p) { return u16(p) | (static_cast<std::uint32_t>(u16(p + 2)) << 16); }
std::uint64_t u64(const std::uint8_t* p) { return u32(p) | (static_cast<std::uint64_t>(u32(p + 4)) << 32); }

constexpr std::uint32_t kEocd = 0x06054b50, kEocd64 = 0x06064b50, kEocd64Locator = 0x07064b50;
constexpr std::uint32_t kCentral = 0x02014b50, kLocal = 0x04034b50;

}  // namespace

ZipArchive::ZipArchive(const std::string& path, MapAccess access) : path_(path), file_(MappedFile::open(path, access)) {
  const std::uint8_t* d = file_->data();
  const std::uint64_t n = file_->size();
  auto fail = [&](const std::string& what) -> void {
    throw Error("'" + path + "' is not a readable PyTorch checkpoint (zip archive): " + what +
                ". The file may be truncated or damaged; download it again.");
  };
  if (n < 22) fail("it is too short to be a zip archive");
  // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
  std::uint64_t eocd = UINT64_MAX;
  const std::uint64_t lowest = n > 65557 ? n - 65557 : 0;
  for (std::uint64_t p = n - 22 + 1; p-- > lowest;) {
    if (u32(d + p) == kEocd) {
      eocd = p;
      break;
    }
  }
  if (eocd == UINT64_MAX) fail("no end-of-archive record (legacy non-zip torch.save files are not supported)");
  std::uint64_t count = u16(d + eocd + 10);
  std::uint64_t cd_size = u32(d + eocd + 12);
  std::uint64_t cd_offset = u32(d + eocd + 16);
  if (eocd >= 20 && u32(d + eocd - 20) == kEocd64Locator) {
    std::uint64_t rec = u64(d + eocd - 20 + 8);
    if (n < 56 || rec > n - 56 || u32(d + rec) != kEocd64) fail("a damaged zip64 end record");
    count = u64(d + rec + 32);
    cd_size = u64(d + rec + 40);
    cd_offset = u64(d + rec + 48);
  }
  if (cd_offset > n || cd_size > n - cd_offset) fail("the central directory lies outside the file");
  if (count > cd_size / 46) fail("the entry count does not fit the central directory");
  std::uint64_t p = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  for (std::uint64_t k = 0; k < count; ++k) {
    if (cd_end - p < 46 || u32(d + p) != kCentral) fail("a damaged central directory entry");
    Entry e;
    e.method = u16(d + p + 10);
    std::uint64_t csize = u32(d + p + 20), usize = u32(d + p + 24);
    const std::uint16_t name_len = u16(d + p + 28), extra_len = u16(d + p + 30), comment_len = u16(d + p + 32);
    std::uint64_t local = u32(d + p + 42);
    if (cd_end - p - 46 < std::uint64_t(name_len) + extra_len + comment_len)
      fail("a central directory entry runs past its end");
    e.name.assign(reinterpret_cast<const char*>(d + p + 46), name_len);
    // zip64 extra field: the 64-bit values of the fields that read 0xFFFFFFFF, in this order.
    const std::uint8_t* x = d + p + 46 + name_len;
    const std::uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const std::uint16_t id = u16(x), len = u16(x + 2);
      if (x_end - x - 4 < len) break;
      if (id == 0x0001) {
        const std::uint8_t* v = x + 4;
        const std::uint8_t* v_end = v + len;
        auto take = [&](std::uint64_t& field) {
          if (field != 0xFFFFFFFFu) return;
          if (v_end - v < 8) fail("a damaged zip64 extra field");
          field = u64(v);
          v += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      x += 4 + len;
    }
    e.size = usize;
    e.compressed_size = csize;
    if (local > n || n - local < 30 || u32(d + local) != kLocal)
      fail("entry '" + e.name + "' has a damaged local header");
    e.data_offset = local + 30 + u16(d + local + 26) + u16(d + local + 28);
    if (e.data_offset > n || e.compressed_size > n - e.data_offset)
      fail("entry '" + e.name + "' runs past the end of the file");
    if (e.method != 0 && e.method != 8)
      fail("entry '" + e.name + "' uses unsupported compression method " + std::to_string(e.method));
    if (e.method == 0 && e.size != e.compressed_size) fail("stored entry '" + e.name + "' has inconsistent sizes");
    by_name_[e.name] = entries_.size();
    entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

const std::uint8_t* ZipArchive::stored_data(const Entry& e) const {
  return e.method == 0 ? file_->data() + e.data_offset : nullptr;
}

std::vector<std::uint8_t> ZipArchive::read(const Entry& e) const {
  const std::uint8_t* src = file_->data() + e.data_offset;
  if (e.method == 0) return std::vector<std::uint8_t>(src, src + e.size);
  // Deflate expands at most ~1032:1; a larger claimed size is a damaged (or hostile) header, and
  // must not make us allocate it.
  if (e.size / 1032 > e.compressed_size + 1) {
    throw Error("'" + path_ + "': entry '" + e.name + "' claims " + std::to_string(e.size) + " bytes from " +
                std::to_string(e.compressed_size) + " compressed bytes (damaged file)");
  }
  std::vector<std::uint8_t> out(e.size);
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw Error("cannot initialise zlib");
  std::uint64_t in_left = e.compressed_size, out_done = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    const uInt in_chunk = static_cast<uInt>(std::min<std::uint64_t>(in_left, 1u << 30));
    zs.next_in = const_cast<Bytef*>(src + (e.compressed_size - in_left));
    zs.avail_in = in_chunk;
    zs.next_out = out.data() + out_done;
    const uInt out_chunk = static_cast<uInt>(std::min<std::uint64_t>(e.size - out_done, 1u << 30));
    zs.avail_out = out_chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_chunk - zs.avail_in;
    out_done += out_chunk - zs.avail_out;
    if (rc == Z_OK && zs.avail_in == in_chunk && zs.avail_out == out_chunk) break;  // no progress
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out_done != e.size) {
    throw Error("'" + path_ + "': entry '" + e.name + "' does not decompress (damaged file)");
  }
  return out;
}

}  // namespace gligen::io
