#include "core/io/torch_pickle.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/io/zip_archive.h"
#include "core/util/error.h"

namespace gligen::io {
namespace {

using Kind = PyValue::Kind;

bool is_container(Kind k) { return k == Kind::List || k == Kind::Tuple || k == Kind::Dict || k == Kind::Object; }

// Deepest nesting of containers accepted. torch.save state dicts nest 2-3 deep and the GLIGEN
// dataset lists 5; the limit keeps the (recursive) destruction of a returned tree shallow.
constexpr int kMaxDepth = 1000;

// The dtype of a torch.<Type>Storage class; nullopt for any other name.
std::optional<torch::ScalarType> storage_dtype(const std::string& global) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"torch.FloatStorage", torch::kFloat32},     {"torch.HalfStorage", torch::kFloat16},
      {"torch.BFloat16Storage", torch::kBFloat16}, {"torch.DoubleStorage", torch::kFloat64},
      {"torch.LongStorage", torch::kInt64},        {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},       {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},        {"torch.BoolStorage", torch::kBool}};
  auto it = types.find(global);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

// The pickle virtual machine: only data-building opcodes; no code is ever executed.
class Unpickler {
 public:
  Unpickler(const ZipArchive& zip, std::string prefix, const std::vector<std::uint8_t>& data)
      : zip_(zip), prefix_(std::move(prefix)), d_(data.data()), n_(data.size()) {}

  // Every container made is also held in containers_, so no tree is ever destroyed recursively
  // while the machine runs. On the way out, the children of every container that is not part
  // of the returned (validated: acyclic, at most kMaxDepth deep) result are dropped first; that
  // breaks any reference cycles a hostile pickle built and keeps destruction flat.
  ~Unpickler() {
    for (const auto& c : containers_) {
      if (kept_.count(c.get())) continue;
      c->items.clear();
      c->dict.clear();
    }
  }
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  PyValuePtr run() {
    auto result = execute();
    validate(result);
    return result;
  }

 private:
  PyValuePtr make(Kind k) {
    auto v = std::make_shared<PyValue>();
    v->kind = k;
    if (is_container(k)) containers_.push_back(v);
    return v;
  }

  // Checks that `root` is acyclic and at most kMaxDepth containers deep (iteratively: the input
  // decides the depth), and marks its containers as kept.
  void validate(const PyValuePtr& root) {
    enum State : char { kOpen, kDone };
    std::unordered_map<const PyValue*, std::pair<State, int>> seen;  // node -> state, height
    struct Frame {
      const PyValue* node;
      size_t next = 0;  // next child index (items, then dict keys and values)
      int height = 0;
    };
    auto children = [](const PyValue* v) { return v->items.size() + 2 * v->dict.size(); };
    auto child = [](const PyValue* v, size_t k) -> const PyValue* {
      if (k < v->items.size()) return v->items[k].get();
      k -= v->items.size();
      return (k % 2 == 0 ? v->dict[k / 2].first : v->dict[k / 2].second).get();
    };
    std::vector<Frame> path;
    auto enter = [&](const PyValue* v) {
      if (!is_container(v->kind)) return;
      if (path.size() >= static_cast<size_t>(kMaxDepth)) fail("objects nest deeper than " + std::to_string(kMaxDepth));
      seen[v] = {kOpen, 0};
      path.push_back({v});
    };
    enter(root.get());
    while (!path.empty()) {
      Frame& f = path.back();
      if (f.next == children(f.node)) {
        const int h = f.height + 1;
        seen[f.node] = {kDone, h};
        kept_.insert(f.node);
        path.pop_back();
        if (!path.empty()) path.back().height = std::max(path.back().height, h);
        continue;
      }
      const PyValue* c = child(f.node, f.next++);
      auto it = seen.find(c);
      if (it == seen.end()) {
        enter(c);
      } else if (it->second.first == kOpen) {
        fail("objects refer to themselves (a reference cycle)");
      } else {
        if (path.size() + it->second.second > static_cast<size_t>(kMaxDepth)) {
          fail("objects nest deeper than " + std::to_string(kMaxDepth));
        }
        f.height = std::max(f.height, it->second.second);
      }
    }
  }

  PyValuePtr execute() {
    while (true) {
      const std::uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                          // PROTO
        case 0x95: bytes(8); break;                        // FRAME
        case '.': return pop();                            // STOP
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '}': push(make(Kind::Dict)); break;           // EMPTY_DICT
        case ']': push(make(Kind::List)); break;           // EMPTY_LIST
        case ')': push(make(Kind::Tuple)); break;          // EMPTY_TUPLE
        case 'N': push(make(Kind::None)); break;
        case 0x88:
        case 0x89: {  // NEWTRUE / NEWFALSE
          auto v = make(Kind::Bool);
          v->b = op == 0x88;
          push(v);
          break;
        }
        case 'J': push_int(static_cast<std::int32_t>(le(4))); break;  // BININT
        case 'K': push_int(le(1)); break;                             // BININT1
        case 'M': push_int(le(2)); break;                             // BININT2
        case 0x8a: {                                                  // LONG1
          const std::uint8_t len = byte();
          if (len > 8) fail("integer too large");
          const std::uint8_t* p = bytes(len);
          std::uint64_t v = 0;
          for (int k = len - 1; k >= 0; --k) v = (v << 8) | p[k];
          if (len > 0 && len < 8 && (p[len - 1] & 0x80)) v |= ~std::uint64_t(0) << (8 * len);  // sign-extend
          push_int(static_cast<int64_t>(v));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian double
          const std::uint8_t* p = bytes(8);
          std::uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];
          auto v = make(Kind::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'X': push_str(Kind::String, le(4)); break;   // BINUNICODE
        case 0x8c: push_str(Kind::String, le(1)); break;  // SHORT_BINUNICODE
        case 0x8d: push_str(Kind::String, le(8)); break;  // BINUNICODE8
        case 'T': push_str(Kind::Bytes, le(4)); break;    // BINSTRING
        case 'U': push_str(Kind::Bytes, le(1)); break;    // SHORT_BINSTRING
        case 'B': push_str(Kind::Bytes, le(4)); break;    // BINBYTES
        case 'C': push_str(Kind::Bytes, le(1)); break;    // SHORT_BINBYTES
        case 'q': memo_put(le(1)); break;                 // BINPUT
        case 'r': memo_put(le(4)); break;                 // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;         // MEMOIZE
        case 'h': memo_get(le(1)); break;                 // BINGET
        case 'j': memo_get(le(4)); break;                 // LONG_BINGET
        case 't': {                                       // TUPLE
          auto t = make(Kind::Tuple);
          t->items = pop_mark();
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          auto t = make(Kind::Tuple);
          const size_t k = op - 0x84;
          if (stack_.size() < k + floor()) fail("stack underflow");
          t->items.assign(stack_.end() - k, stack_.end());
          stack_.resize(stack_.size() - k);
          push(t);
          break;
        }
        case 'l': {  // LIST
          auto l = make(Kind::List);
          l->items = pop_mark();
          push(l);
          break;
        }
        case 'd': {  // DICT
          auto d = make(Kind::Dict);
          set_items(d.get(), pop_mark());
          push(d);
          break;
        }
        case 'a': {  // APPEND
          auto v = pop();
          list_target(top())->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto vs = pop_mark();
          auto& l = list_target(top())->items;
          l.insert(l.end(), vs.begin(), vs.end());
          break;
        }
        case 's': {  // SETITEM
          auto v = pop();
          auto k = pop();
          dict_target(top())->dict.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto kvs = pop_mark();
          set_items(dict_target(top()), kvs);
          break;
        }
        case '0': pop(); break;        // POP
        case '1': pop_mark(); break;   // POP_MARK
        case '2': push(top()); break;  // DUP
        case 'c': {                    // GLOBAL "module\nname\n"
          const std::string module = line(), name = line();
          auto g = make(Kind::Global);
          g->s = module + "." + name;
          push(g);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL needs two strings");
          auto g = make(Kind::Global);
          g->s = module->s + "." + name->s;
          push(g);
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case 'R': {                                     // REDUCE
          auto args = pop();
          auto callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          auto args = pop();
          auto cls = pop();
          push(reduce(cls, args));
          break;
        }
        case 'b': {  // BUILD: object state; dict attributes (OrderedDict._metadata) are dropped.
          pop();
          top();
          break;
        }
        default: {
          std::ostringstream os;
          os << "unsupported pickle opcode 0x" << std::hex << int(op) << std::dec << " at offset " << pos_ - 1;
          fail(os.str());
        }
      }
      if (stack_.size() > kMaxStack) fail("pickle stack too deep");
    }
  }

  // pickle batches APPENDS/SETITEMS by 1000, so real files keep the stack small. The memo grows
  // with the number of objects (millions for a COCO-sized dataset list) and is bounded by the
  // pickle's size, since every entry costs at least one opcode byte.
  static constexpr size_t kMaxStack = 1u << 20;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("'" + zip_.path() + "' cannot be read as a PyTorch checkpoint: " + what);
  }
  std::uint8_t byte() { return *bytes(1); }
  const std::uint8_t* bytes(std::uint64_t k) {
    if (k > n_ - pos_) fail("the pickle ends early (truncated file?)");
    const std::uint8_t* p = d_ + pos_;
    pos_ += k;
    return p;
  }
  std::uint64_t le(int k) {
    const std::uint8_t* p = bytes(k);
    std::uint64_t v = 0;
    for (int i = k - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string line() {
    const void* nl = std::memchr(d_ + pos_, '\n', n_ - pos_);
    if (nl == nullptr) fail("an unterminated GLOBAL (truncated file?)");
    const size_t len = static_cast<const std::uint8_t*>(nl) - (d_ + pos_);
    std::string s(reinterpret_cast<const char*>(bytes(len)), len);
    bytes(1);
    return s;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PyValuePtr v) { stack_.push_back(std::move(v)); }
  void push_int(int64_t i) {
    auto v = make(Kind::Int);
    v->i = i;
    push(v);
  }
  void push_str(Kind k, std::uint64_t len) {
    auto v = make(k);
    v->s.assign(reinterpret_cast<const char*>(bytes(len)), len);
    push(v);
  }
  PyValuePtr pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  const PyValuePtr& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<PyValuePtr> pop_mark() {
    if (marks_.empty()) fail("missing MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyValuePtr> out(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return out;
  }
  void memo_put(std::uint64_t key) {
    if (memo_.size() > n_) fail("memo too large");
    memo_[key] = top();
  }
  void memo_get(std::uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("reference to an unknown memo entry");
    push(it->second);
  }
  PyValue* list_target(const PyValuePtr& v) {
    if (!v || v->kind != Kind::List) fail("APPEND to something that is not a list");
    return v.get();
  }
  PyValue* dict_target(const PyValuePtr& v) {
    if (!v || v->kind != Kind::Dict) fail("SETITEM on something that is not a dict");
    return v.get();
  }
  void set_items(PyValue* d, const std::vector<PyValuePtr>& kvs) {
    if (d == nullptr) return;
    if (kvs.size() % 2 != 0) fail("odd number of dict items");
    for (size_t k = 0; k < kvs.size(); k += 2) d->dict.emplace_back(kvs[k], kvs[k + 1]);
  }

  // ('storage', <storage class>, key, location, numel) -> a flat tensor over data/<key>.
  PyValuePtr persistent_load(const PyValuePtr& pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Kind::Global || pid->items[2]->kind != Kind::String ||
        pid->items[4]->kind != Kind::Int) {
      fail("an unsupported persistent id (only tensor storages are supported)");
    }
    const std::string key = pid->items[2]->s;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const auto known = storage_dtype(pid->items[1]->s);
    if (!known) fail("unsupported tensor storage type " + pid->items[1]->s);
    const torch::ScalarType dtype = *known;
    const int64_t numel = pid->items[4]->i;
    const ZipArchive::Entry* e = zip_.find(prefix_ + "data/" + key);
    if (e == nullptr) fail("tensor data record 'data/" + key + "' is missing");
    const std::uint64_t elem = c10::elementSize(dtype);
    if (numel < 0 || static_cast<std::uint64_t>(numel) > e->size / elem ||
        e->size != static_cast<std::uint64_t>(numel) * elem) {
      fail("tensor data record 'data/" + key + "' has " + std::to_string(e->size) + " bytes, expected " +
           std::to_string(numel) + " x " + std::to_string(elem));
    }
    auto v = make(Kind::Tensor);
    const std::uint8_t* p = zip_.stored_data(*e);
    auto options = torch::TensorOptions().dtype(dtype);
    if (p != nullptr && reinterpret_cast<std::uintptr_t>(p) % elem == 0 && numel > 0) {
      auto keep = zip_.file();
      v->tensor = torch::from_blob(
          const_cast<std::uint8_t*>(p), {numel}, [keep](void*) {}, options);
    } else {
      auto bytes = zip_.read(*e);
      v->tensor = torch::empty({numel}, options);
      if (numel > 0) std::memcpy(v->tensor.data_ptr(), bytes.data(), bytes.size());
    }
    storages_[key] = v;
    storage_values_.insert(v.get());
    return v;
  }

  std::vector<int64_t> int_tuple(const PyValuePtr& v, const char* what) {
    if (v->kind != Kind::Tuple && v->kind != Kind::List) fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v->items) {
      if (x->kind != Kind::Int) fail(std::string(what) + " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  PyValuePtr reduce(const PyValuePtr& callable, const PyValuePtr& args) {
    if (callable->kind != Kind::Global) fail("REDUCE of something that is not a class or function");
    if (args->kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
    const std::string& g = callable->s;
    if (g == "collections.OrderedDict") return make(Kind::Dict);
    if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
      if (args->items.size() < 4 || !storage_values_.count(args->items[0].get()) || args->items[1]->kind != Kind::Int) {
        fail("malformed tensor record (its first argument must be a storage)");
      }
      const torch::Tensor& storage = args->items[0]->tensor;
      const int64_t offset = args->items[1]->i;
      const auto size = int_tuple(args->items[2], "tensor size");
      const auto stride = int_tuple(args->items[3], "tensor stride");
      if (size.size() != stride.size() || offset < 0) fail("tensor size and stride do not match");
      int64_t last = offset;  // highest element index touched
      bool empty = false;
      for (size_t k = 0; k < size.size(); ++k) {
        if (size[k] < 0 || stride[k] < 0) fail("negative tensor size or stride");
        if (size[k] == 0) empty = true;
        if (size[k] > 0 && stride[k] > 0 && (size[k] - 1) > (INT64_MAX - last) / stride[k])
          fail("tensor extent overflows");
        if (size[k] > 0) last += (size[k] - 1) * stride[k];
      }
      if (!empty && last >= storage.numel()) fail("tensor points outside its storage");
      auto v = make(Kind::Tensor);
      v->tensor = empty ? torch::empty(size, storage.options()) : storage.as_strided(size, stride, offset);
      return v;
    }
    if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
      if (args->items.empty() || args->items[0]->kind != Kind::Tensor) fail("malformed parameter record");
      return args->items[0];
    }
    if (g == "builtins.set" || g == "__builtin__.set" || g == "builtins.frozenset") {
      auto l = make(Kind::List);
      if (!args->items.empty()) l->items = args->items[0]->items;
      return l;
    }
    fail("it contains an object of type " + g +
         ", which GLIGEN Studio does not load (only dicts, lists, strings, numbers and tensors)");
  }

  const ZipArchive& zip_;
  std::string prefix_;
  const std::uint8_t* d_;
  std::uint64_t n_;
  std::uint64_t pos_ = 0;
  std::vector<PyValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<std::uint64_t, PyValuePtr> memo_;
  std::map<std::string, PyValuePtr> storages_;
  std::set<const PyValue*> storage_values_;
  std::vector<PyValuePtr> containers_;
  std::unordered_set<const PyValue*> kept_;
};

void flatten_state_dict(const PyValue& dict, const std::string& path, StateDict& out) {
  for (const auto& [k, v] : dict.dict) {
    if (k->kind != Kind::String) throw Error("'" + path + "': a state dict key is not a string");
    if (v->kind != Kind::Tensor) {
      throw Error("'" + path + "': entry '" + k->s + "' is a " + v->kind_name() +
                  ", not a tensor; is this a state dict?");
    }
    out[k->s] = v->tensor;
  }
}

}  // namespace

PyValuePtr PyValue::get(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : dict) {
    if (k->kind == Kind::String && k->s == key) return v;
  }
  return nullptr;
}

std::string PyValue::kind_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Tensor: return "tensor";
    case Kind::Global: return "global " + s;
    case Kind::Object: return "object";
  }
  return "value";
}

PyValuePtr read_torch_file(const std::string& path, MapAccess access) {
  ZipArchive zip(path, access);
  const ZipArchive::Entry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const std::string suffix = "data.pkl";
    if (e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        std::count(e.name.begin(), e.name.end(), '/') == 1) {
      pkl = &e;
      break;
    }
  }
  if (pkl == nullptr) throw Error("'" + path + "' is a zip archive but not a torch.save file (no <name>/data.pkl)");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());
  // torch.save records the writer's byte order since PyTorch 2.0; older files are little-endian.
  if (const ZipArchive::Entry* order = zip.find(prefix + "byteorder")) {
    const auto bytes = zip.read(*order);
    const std::string text(bytes.begin(), bytes.end());
    if (text != "little") {
      throw Error("'" + path + "' was saved on a '" + text.substr(0, 16) +
                  "'-endian machine; only little-endian PyTorch checkpoints can be read. Re-save it on a "
                  "little-endian machine, or convert it to safetensors.");
    }
  }
  const auto data = zip.read(*pkl);
  try {
    return Unpickler(zip, prefix, data).run();
  } catch (const c10::Error& e) {  // a tensor torch itself refuses to build
    throw Error("'" + path + "' cannot be read as a PyTorch checkpoint: " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw Error("'" + path + "' cannot be read as a PyTorch checkpoint: it asks for more memory than is available");
  }
}

StateDict read_torch_bin(const std::string& path, MapAccess access) {
  auto root = read_torch_file(path, access);
  if (root->kind == Kind::Dict) {
    if (auto inner = root->get("state_dict"); inner && inner->kind == Kind::Dict) root = inner;
  }
  if (root->kind != Kind::Dict) throw Error("'" + path + "' holds a " + root->kind_name() + ", not a state dict");
  StateDict out;
  flatten_state_dict(*root, path, out);
  return out;
}

}  // namespace gligen::io
