#include "core/io/safetensors.h"
#include "core/io/safetensors_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "core/util/mapped_file.h"

namespace gligen::io {
namespace {

// Largest header we accept: the format's own limit is 100 MB.
constexpr std::uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  std::size_t size;
};

const DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8},   {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},     {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo& dtype_by_type(torch::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (d.type == t) return d;
  }
  throw Error(std::string("safetensors cannot store tensors of dtype ") + c10::toString(t));
}

[[noreturn]] void fail(const std::string& file, const std::string& problem) {
  throw Error("'" + file + "' is not a valid safetensors file: " + problem);
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  std::uint64_t begin, end;
};

// Validates the header and returns entries sorted by offset. `data_size` is the size of the
// byte buffer after the header.
std::vector<Entry> parse_header(const std::string& file, const std::string& header_text, std::uint64_t data_size,
                                std::map<std::string, std::string>& metadata) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);  // also rejects invalid UTF-8
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail(file, "header is not a JSON object");
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(file, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(file, "__metadata__ value for '" + m.key() + "' is not a string");
        metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(file, "entry '" + name + "' is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(file, "entry '" + name + "' has no string dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(file, "entry '" + name + "' has no shape list");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      fail(file, "entry '" + name + "' has no [begin, end] data_offsets");
    }
    for (auto k = v.begin(); k != v.end(); ++k) {
      if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets") {
        fail(file, "entry '" + name + "' has an unknown field '" + k.key() + "'");
      }
    }
    Entry e;
    e.name = name;
    e.dtype = dtype_by_name(v["dtype"].get<std::string>());
    if (e.dtype == nullptr)
      fail(file, "entry '" + name + "' has unsupported dtype '" + v["dtype"].get<std::string>() + "'");
    std::uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned())
        fail(file, "entry '" + name + "' has a shape that is not a list of non-negative integers");
      std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / dim)) {
        fail(file, "entry '" + name + "' has a shape whose element count overflows");
      }
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"]) {
      if (!o.is_number_unsigned())
        fail(file, "entry '" + name + "' has data_offsets that are not non-negative integers");
    }
    e.begin = v["data_offsets"][0].get<std::uint64_t>();
    e.end = v["data_offsets"][1].get<std::uint64_t>();
    if (e.end < e.begin) fail(file, "entry '" + name + "' ends before it begins");
    if (numel > std::numeric_limits<std::uint64_t>::max() / e.dtype->size) {
      fail(file, "entry '" + name + "' has a byte size that overflows");
    }
    if (e.end - e.begin != numel * e.dtype->size) {
      fail(file, "entry '" + name + "' holds " + std::to_string(e.end - e.begin) +
                     " bytes but its shape and dtype need " + std::to_string(numel * e.dtype->size));
    }
    if (e.end > data_size) {
      fail(file, "entry '" + name + "' points past the end of the file (truncated download?)");
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t expected = 0;
  for (const auto& e : entries) {
    if (e.begin < expected) fail(file, "entry '" + e.name + "' overlaps the previous tensor");
    if (e.begin > expected) fail(file, "there is a gap of unused bytes before entry '" + e.name + "'");
    expected = e.end;
  }
  if (expected != data_size) {
    fail(file, "the data buffer has " + std::to_string(data_size - expected) + " bytes not covered by any tensor");
  }
  return entries;
}

SafetensorsFile parse_impl(const std::uint8_t* data, std::size_t size, const std::string& file,
                           const std::shared_ptr<MappedFile>& owner) {
  if (size < 8) fail(file, "it is shorter than the 8-byte header length (" + std::to_string(size) + " bytes)");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxHeaderBytes) fail(file, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8) fail(file, "header length " + std::to_string(n) + " runs past the end of the file");
  if (n < 2 || data[8] != '{') fail(file, "header does not start with '{'");
  SafetensorsFile out;
  std::string header_text(reinterpret_cast<const char*>(data + 8), n);
  auto entries = parse_header(file, header_text, size - 8 - n, out.metadata);
  const std::uint8_t* base = data + 8 + n;
  for (const auto& e : entries) {
    const std::uint8_t* p = base + e.begin;
    auto options = torch::TensorOptions().dtype(e.dtype->type);
    torch::Tensor t;
    bool aligned = reinterpret_cast<std::uintptr_t>(p) % e.dtype->size == 0;
    if (owner && aligned && e.end > e.begin) {
      // Zero copy: the tensor keeps the mapping alive. The mapping is private (MAP_PRIVATE): a
      // write never reaches the file (and faults when the mapping is ReadOnly).
      auto keep = owner;
      t = torch::from_blob(
          const_cast<std::uint8_t*>(p), e.shape, [keep](void*) {}, options);
    } else {
      t = torch::empty(e.shape, options);
      if (e.end > e.begin) std::memcpy(t.data_ptr(), p, e.end - e.begin);
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path, MapAccess access) {
  auto file = MappedFile::open(path, access);
  return parse_impl(file->data(), file->size(), path, file);
}

SafetensorsFile parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& name) {
  return parse_impl(data, size, name, nullptr);
}

std::uint64_t safetensors_entry_bytes(const SafetensorsEntry& entry) {
  std::uint64_t n = dtype_by_type(entry.dtype).size;
  for (const auto d : entry.shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

void write_safetensors_streamed(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                                const std::function<torch::Tensor(std::size_t)>& produce,
                                const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& e : entries) {
    if (e.name == "__metadata__") throw Error("a tensor cannot be named __metadata__");
    if (header.contains(e.name)) throw Error("tensor '" + e.name + "' is listed twice for " + path);
    const std::uint64_t bytes = safetensors_entry_bytes(e);
    header[e.name] = {
        {"dtype", dtype_by_type(e.dtype).name}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned (allowed by the format).
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write '" + tmp + "': " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(what);
  };
  auto write_all = [&](const void* p, std::size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      ssize_t w = ::write(fd, c, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("cannot write '" + tmp + "': " + std::strerror(errno));
      }
      c += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  std::uint8_t len[8];
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
  write_all(len, 8);
  write_all(text.data(), text.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    torch::Tensor t;
    try {
      t = produce(i).detach().to(torch::kCPU).contiguous();
    } catch (...) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw;
    }
    if (t.scalar_type() != entries[i].dtype || t.sizes().vec() != entries[i].shape) {
      fail("tensor '" + entries[i].name + "' for " + path + " does not have the dtype and shape its header entry says");
    }
    write_all(t.data_ptr(), t.numel() * t.element_size());
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot flush '" + tmp + "' to disk: " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(err));
  }
}

void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsEntry> entries;
  std::vector<torch::Tensor> ordered;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    entries.push_back({name, t.scalar_type(), t.sizes().vec()});
    ordered.push_back(t);
  }
  write_safetensors_streamed(
      path, entries, [&](std::size_t i) { return ordered[i]; }, metadata);
}

}  // namespace gligen::io
