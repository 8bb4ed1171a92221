#include "core/io/torch_save.h"

#include <torch/torch.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/util/error.h"

namespace gligen::io {
namespace {

constexpr std::uint64_t kU32Max = 0xFFFFFFFFu;
constexpr std::uint64_t kAlignment = 64;  // PyTorch aligns record data to 64 bytes

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v));
  put16(b, static_cast<std::uint16_t>(v >> 16));
}
void put64(std::vector<std::uint8_t>& b, std::uint64_t v) {
  put32(b, static_cast<std::uint32_t>(v));
  put32(b, static_cast<std::uint32_t>(v >> 32));
}
std::uint32_t clamp32(std::uint64_t v) {
  return v >= kU32Max ? static_cast<std::uint32_t>(kU32Max) : static_cast<std::uint32_t>(v);
}

std::uint32_t crc_of(const void* data, std::uint64_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<std::uint64_t>(size, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    size -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

const char* storage_class(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "FloatStorage";
    case torch::kFloat64: return "DoubleStorage";
    case torch::kFloat16: return "HalfStorage";
    case torch::kBFloat16: return "BFloat16Storage";
    case torch::kInt64: return "LongStorage";
    case torch::kInt32: return "IntStorage";
    case torch::kInt16: return "ShortStorage";
    case torch::kInt8: return "CharStorage";
    case torch::kUInt8: return "ByteStorage";
    case torch::kBool: return "BoolStorage";
    default: return nullptr;
  }
}

}  // namespace

TorchFileWriter::TorchFileWriter(std::string path, std::string archive_name)
    : path_(std::move(path)), partial_(path_ + ".partial"), archive_(std::move(archive_name)) {
  file_ = std::fopen(partial_.c_str(), "wb");
  if (file_ == nullptr) fail(std::string("cannot create the file: ") + std::strerror(errno));
  pickle_ = {0x80, 2};  // PROTO 2
}

TorchFileWriter::~TorchFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!finished_) {
    std::error_code ec;
    std::filesystem::remove(partial_, ec);
  }
}

void TorchFileWriter::fail(const std::string& what) const {
  throw Error("cannot write '" + path_ + "': " + what + ". Check the folder exists, is writable and has free space.");
}

void TorchFileWriter::raw(const void* p, size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  pickle_.insert(pickle_.end(), b, b + n);
}

void TorchFileWriter::before_value() {
  TORCH_CHECK(!finished_ && !root_done_, "TorchFileWriter: value after the root object was complete");
  if (!frames_.empty() && frames_.back().is_dict) {
    TORCH_CHECK(frames_.back().expecting_value, "TorchFileWriter: a dict value without key()");
  }
}

void TorchFileWriter::after_value() {
  if (frames_.empty()) {
    root_done_ = true;
    return;
  }
  Frame& f = frames_.back();
  if (f.is_dict) {
    op('s');  // SETITEM: dict[key] = value
    f.expecting_value = false;
  } else {
    op('a');  // APPEND
  }
}

void TorchFileWriter::begin_list() {
  before_value();
  op(']');
  frames_.push_back({false, false});
}

void TorchFileWriter::end_list() {
  TORCH_CHECK(!frames_.empty() && !frames_.back().is_dict, "TorchFileWriter: end_list without begin_list");
  frames_.pop_back();
  after_value();
}

void TorchFileWriter::begin_dict() {
  before_value();
  op('}');
  frames_.push_back({true, false});
}

void TorchFileWriter::end_dict() {
  TORCH_CHECK(!frames_.empty() && frames_.back().is_dict && !frames_.back().expecting_value,
              "TorchFileWriter: end_dict without begin_dict, or a key without a value");
  frames_.pop_back();
  after_value();
}

void TorchFileWriter::key(const std::string& k) {
  TORCH_CHECK(!frames_.empty() && frames_.back().is_dict && !frames_.back().expecting_value,
              "TorchFileWriter: key() outside a dict or twice in a row");
  op('X');
  const auto n = static_cast<std::uint32_t>(k.size());
  std::vector<std::uint8_t> len;
  put32(len, n);
  raw(len.data(), 4);
  raw(k.data(), k.size());
  frames_.back().expecting_value = true;
}

void TorchFileWriter::none() {
  before_value();
  op('N');
  after_value();
}

void TorchFileWriter::value(bool b) {
  before_value();
  op(b ? 0x88 : 0x89);  // NEWTRUE / NEWFALSE
  after_value();
}

void TorchFileWriter::value(int64_t i) {
  before_value();
  if (i >= 0 && i < 256) {
    op('K');
    op(static_cast<std::uint8_t>(i));
  } else if (i >= 0 && i < 65536) {
    op('M');
    std::vector<std::uint8_t> b;
    put16(b, static_cast<std::uint16_t>(i));
    raw(b.data(), 2);
  } else if (i >= INT32_MIN && i <= INT32_MAX) {
    op('J');
    std::vector<std::uint8_t> b;
    put32(b, static_cast<std::uint32_t>(static_cast<std::int32_t>(i)));
    raw(b.data(), 4);
  } else {
    op(0x8a);  // LONG1: 8 bytes of little-endian two's complement
    op(8);
    std::vector<std::uint8_t> b;
    put64(b, static_cast<std::uint64_t>(i));
    raw(b.data(), 8);
  }
  after_value();
}

void TorchFileWriter::value(double f) {
  before_value();
  op('G');  // BINFLOAT: big-endian IEEE double
  std::uint64_t bits;
  std::memcpy(&bits, &f, 8);
  for (int k = 7; k >= 0; --k) op(static_cast<std::uint8_t>(bits >> (8 * k)));
  after_value();
}

void TorchFileWriter::value(const std::string& s) {
  before_value();
  op('X');  // BINUNICODE: u32 length + UTF-8
  std::vector<std::uint8_t> len;
  put32(len, static_cast<std::uint32_t>(s.size()));
  raw(len.data(), 4);
  raw(s.data(), s.size());
  after_value();
}

void TorchFileWriter::float_list(const std::vector<double>& values) {
  begin_list();
  for (double v : values) value(v);
  end_list();
}

void TorchFileWriter::tensor(const torch::Tensor& t_in) {
  TORCH_CHECK(t_in.defined(), "TorchFileWriter: undefined tensor");
  const char* cls = storage_class(t_in.scalar_type());
  if (cls == nullptr) fail(std::string("tensors of type ") + c10::toString(t_in.scalar_type()) + " cannot be saved");
  before_value();
  const torch::Tensor t = t_in.detach().to(torch::kCPU).contiguous();
  const std::string key = std::to_string(next_storage_++);
  write_record(archive_ + "/data/" + key, t.data_ptr(), static_cast<std::uint64_t>(t.nbytes()));

  auto global = [&](const std::string& module, const std::string& name) {
    op('c');
    raw(module.data(), module.size());
    op('\n');
    raw(name.data(), name.size());
    op('\n');
  };
  auto str = [&](const std::string& s) {
    op('X');
    std::vector<std::uint8_t> len;
    put32(len, static_cast<std::uint32_t>(s.size()));
    raw(len.data(), 4);
    raw(s.data(), s.size());
  };
  auto integer = [&](int64_t i) {
    // Always LONG1 here: sizes and strides may exceed 32 bits.
    op(0x8a);
    op(8);
    std::vector<std::uint8_t> b;
    put64(b, static_cast<std::uint64_t>(i));
    raw(b.data(), 8);
  };
  auto int_tuple = [&](c10::IntArrayRef v) {
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  };
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks)
  global("torch._utils", "_rebuild_tensor_v2");
  op('(');
  op('(');  // persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
  str("storage");
  global("torch", cls);
  str(key);
  str("cpu");
  integer(t.numel());
  op('t');
  op('Q');  // BINPERSID
  integer(0);
  int_tuple(t.sizes());
  int_tuple(t.strides());
  op(0x89);  // requires_grad False
  global("collections", "OrderedDict");
  op(')');
  op('R');
  op('t');
  op('R');
  after_value();
}

void TorchFileWriter::write_bytes(const void* data, std::uint64_t size) {
  if (size > 0 && std::fwrite(data, 1, size, file_) != size) fail(std::string("write failed: ") + std::strerror(errno));
  offset_ += size;
}

void TorchFileWriter::write_record(const std::string& name, const void* data, std::uint64_t size) {
  const std::uint32_t crc = crc_of(data, size);
  const bool zip64 = size >= kU32Max;
  std::vector<std::uint8_t> h;
  put32(h, 0x04034b50);
  put16(h, zip64 ? 45 : 20);  // version needed
  put16(h, 0);                // flags
  put16(h, 0);                // stored
  put16(h, 0);                // time
  put16(h, 0x21);             // date: 1980-01-01
  put32(h, crc);
  put32(h, clamp32(size));
  put32(h, clamp32(size));
  put16(h, static_cast<std::uint16_t>(name.size()));
  const size_t extra_len_pos = h.size();
  put16(h, 0);
  h.insert(h.end(), name.begin(), name.end());
  std::vector<std::uint8_t> extra;
  if (zip64) {
    put16(extra, 0x0001);
    put16(extra, 16);
    put64(extra, size);
    put64(extra, size);
  }
  // Padding extra field ("FB", as PyTorch's writer) so that the data starts 64-byte aligned.
  const std::uint64_t before_pad = offset_ + h.size() + extra.size() + 4;
  const auto pad = static_cast<std::uint16_t>((kAlignment - before_pad % kAlignment) % kAlignment);
  put16(extra, 0x4246);
  put16(extra, pad);
  extra.insert(extra.end(), pad, 'Z');
  h[extra_len_pos] = static_cast<std::uint8_t>(extra.size());
  h[extra_len_pos + 1] = static_cast<std::uint8_t>(extra.size() >> 8);
  h.insert(h.end(), extra.begin(), extra.end());
  entries_.push_back({name, crc, size, offset_});
  write_bytes(h.data(), h.size());
  write_bytes(data, size);
}

void TorchFileWriter::finish() {
  TORCH_CHECK(!finished_, "TorchFileWriter: finish() twice");
  TORCH_CHECK(root_done_ && frames_.empty(), "TorchFileWriter: finish() before the root object was complete");
  op('.');  // STOP
  write_record(archive_ + "/data.pkl", pickle_.data(), pickle_.size());
  const char version[] = "3\n";
  write_record(archive_ + "/version", version, 2);

  const std::uint64_t cd_offset = offset_;
  std::vector<std::uint8_t> cd;
  for (const auto& e : entries_) {
    std::vector<std::uint8_t> extra;
    if (e.size >= kU32Max || e.offset >= kU32Max) {
      put16(extra, 0x0001);
      const std::uint16_t n = static_cast<std::uint16_t>((e.size >= kU32Max ? 16 : 0) + (e.offset >= kU32Max ? 8 : 0));
      put16(extra, n);
      if (e.size >= kU32Max) {
        put64(extra, e.size);
        put64(extra, e.size);
      }
      if (e.offset >= kU32Max) put64(extra, e.offset);
    }
    put32(cd, 0x02014b50);
    put16(cd, 45);  // made by
    put16(cd, extra.empty() ? 20 : 45);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0x21);
    put32(cd, e.crc);
    put32(cd, clamp32(e.size));
    put32(cd, clamp32(e.size));
    put16(cd, static_cast<std::uint16_t>(e.name.size()));
    put16(cd, static_cast<std::uint16_t>(extra.size()));
    put16(cd, 0);  // comment
    put16(cd, 0);  // disk
    put16(cd, 0);  // internal attributes
    put32(cd, 0);  // external attributes
    put32(cd, clamp32(e.offset));
    cd.insert(cd.end(), e.name.begin(), e.name.end());
    cd.insert(cd.end(), extra.begin(), extra.end());
  }
  write_bytes(cd.data(), cd.size());
  const std::uint64_t cd_size = cd.size();
  const std::uint64_t count = entries_.size();
  std::vector<std::uint8_t> end;
  const bool zip64 = cd_offset >= kU32Max || cd_size >= kU32Max || count >= 0xFFFF;
  if (zip64) {
    const std::uint64_t eocd64 = offset_;
    put32(end, 0x06064b50);
    put64(end, 44);
    put16(end, 45);
    put16(end, 45);
    put32(end, 0);
    put32(end, 0);
    put64(end, count);
    put64(end, count);
    put64(end, cd_size);
    put64(end, cd_offset);
    put32(end, 0x07064b50);
    put32(end, 0);
    put64(end, eocd64);
    put32(end, 1);
  }
  put32(end, 0x06054b50);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, 0xFFFF)));
  put16(end, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, 0xFFFF)));
  put32(end, clamp32(cd_size));
  put32(end, clamp32(cd_offset));
  put16(end, 0);
  write_bytes(end.data(), end.size());

  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)
    fail(std::string("flush failed: ") + std::strerror(errno));
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(partial_, path_, ec);
  if (ec) fail("cannot rename the finished file into place: " + ec.message());
  finished_ = true;
}

namespace {

void write_value(TorchFileWriter& w, const PyValue& v) {
  using Kind = PyValue::Kind;
  switch (v.kind) {
    case Kind::None: w.none(); break;
    case Kind::Bool: w.value(v.b); break;
    case Kind::Int: w.value(v.i); break;
    case Kind::Float: w.value(v.f); break;
    case Kind::String: w.value(v.s); break;
    case Kind::Tensor: w.tensor(v.tensor); break;
    case Kind::List:
    case Kind::Tuple:
      w.begin_list();
      for (const auto& x : v.items) write_value(w, *x);
      w.end_list();
      break;
    case Kind::Dict:
      w.begin_dict();
      for (const auto& [k, x] : v.dict) {
        if (k->kind != Kind::String) throw Error("torch file writer: only string dict keys are supported");
        w.key(k->s);
        write_value(w, *x);
      }
      w.end_dict();
      break;
    default: throw Error("torch file writer: cannot save a " + v.kind_name());
  }
}

PyValuePtr make(PyValue::Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}

}  // namespace

void write_torch_file(const std::string& path, const PyValue& root) {
  TorchFileWriter w(path);
  write_value(w, root);
  w.finish();
}

PyValuePtr py_int(int64_t i) {
  auto v = make(PyValue::Kind::Int);
  v->i = i;
  return v;
}
PyValuePtr py_float(double f) {
  auto v = make(PyValue::Kind::Float);
  v->f = f;
  return v;
}
PyValuePtr py_str(std::string s) {
  auto v = make(PyValue::Kind::String);
  v->s = std::move(s);
  return v;
}
PyValuePtr py_list(std::vector<PyValuePtr> items) {
  auto v = make(PyValue::Kind::List);
  v->items = std::move(items);
  return v;
}
PyValuePtr py_dict(std::vector<std::pair<std::string, PyValuePtr>> items) {
  auto v = make(PyValue::Kind::Dict);
  for (auto& [k, x] : items) v->dict.emplace_back(py_str(k), std::move(x));
  return v;
}
PyValuePtr py_tensor(torch::Tensor t) {
  auto v = make(PyValue::Kind::Tensor);
  v->tensor = std::move(t);
  return v;
}

}  // namespace gligen::io
