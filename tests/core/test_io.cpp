// core/io: safetensors round trips and a corpus of malformed files, torch.save (.bin) state
// dicts, fp16-only and sharded component folders, and strict loading.
#include <zlib.h>

#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/resident_weights.h"
#include "core/io/safetensors.h"
#include "core/io/state_dict.h"
#include "core/io/torch_pickle.h"
#include "core/io/weight_release.h"
#include "core/io/weights.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using gligen::test::fixture;

namespace {

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors image from a header text and a data buffer.
std::string safetensors_image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

bool tensors_equal(const gligen::io::StateDict& a, const gligen::io::StateDict& b, const std::set<std::string>& ignore,
                   std::string& why) {
  for (const auto& [k, t] : a) {
    if (ignore.count(k)) continue;
    auto it = b.find(k);
    if (it == b.end()) {
      why = "missing " + k;
      return false;
    }
    if (t.scalar_type() != it->second.scalar_type() || !torch::equal(t, it->second)) {
      why = "differs: " + k;
      return false;
    }
  }
  for (const auto& [k, t] : b) {
    if (!ignore.count(k) && !a.count(k)) {
      why = "extra " + k;
      return false;
    }
  }
  return true;
}

std::string le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// A minimal zip writer (the layout torch.save produces): local header + data per entry, then
// the central directory and the end record. Stored entries are padded so their data is
// 64-byte aligned, as torch.save does; `claimed_size` falsifies an entry's uncompressed size.
class ZipBuilder {
 public:
  void add(const std::string& name, const std::string& data, bool compress = false, int64_t claimed_size = -1,
           uint16_t method_override = 0xffff) {
    std::string payload = data;
    uint16_t method = 0;
    if (compress) {
      z_stream zs{};
      deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      payload.resize(deflateBound(&zs, data.size()));
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      zs.avail_in = static_cast<uInt>(data.size());
      zs.next_out = reinterpret_cast<Bytef*>(payload.data());
      zs.avail_out = static_cast<uInt>(payload.size());
      ::deflate(&zs, Z_FINISH);
      payload.resize(zs.total_out);
      deflateEnd(&zs);
      method = 8;
    }
    if (method_override != 0xffff) method = method_override;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
    const uint64_t usize = claimed_size >= 0 ? static_cast<uint64_t>(claimed_size) : data.size();
    const uint64_t local = out_.size();
    std::string extra;
    const size_t data_at = local + 30 + name.size() + 4;
    extra = le(0xcafe, 2) + le((64 - data_at % 64) % 64, 2);
    extra += std::string((64 - data_at % 64) % 64, 'Z');
    std::string common = le(20, 2) + le(0, 2) + le(method, 2) + le(0, 4) + le(crc, 4) + le(payload.size(), 4) +
                         le(usize, 4) + le(name.size(), 2);
    out_ += le(0x04034b50, 4) + common + le(extra.size(), 2) + name + extra + payload;
    central_ += le(0x02014b50, 4) + le(20, 2) + common + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) +
                le(local, 4) + name;
    ++count_;
  }
  std::string finish() const {
    return out_ + central_ + le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(count_, 2) + le(count_, 2) +
           le(central_.size(), 4) + le(out_.size(), 4) + le(0, 2);
  }

 private:
  std::string out_, central_;
  int count_ = 0;
};

// Pickle fragments, as torch.save (protocol 2) writes them.
namespace pk {
std::string str(const std::string& s) { return "X" + le(s.size(), 4) + s; }
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string int1(int v) { return "K" + le(v, 1); }
std::string long1(uint64_t v) { return std::string("\x8a\x08", 2) + le(v, 8); }
const std::string kProto = std::string("\x80\x02", 2);
const std::string kTuple2 = "\x86";
// ('storage', <type>, key, 'cpu', numel) loaded through BINPERSID.
std::string storage(const std::string& type, const std::string& key, const std::string& numel) {
  return "(" + str("storage") + global("torch", type) + str(key) + str("cpu") + numel + "tQ";
}
// _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
std::string tensor(const std::string& storage_expr, int offset, const std::string& size, const std::string& stride) {
  return global("torch._utils", "_rebuild_tensor_v2") + "(" + storage_expr + int1(offset) + size + stride + "\x89" +
         global("collections", "OrderedDict") + ")R" + "tR";
}
// OrderedDict({key: value_expr})
std::string state_dict(const std::string& key, const std::string& value_expr) {
  return kProto + global("collections", "OrderedDict") + ")R" + "(" + str(key) + value_expr + "u.";
}
// A valid state dict {"w": 2x2 view (offset 1, strides (1, 2)) of a 6-float storage} = [[1, 3], [2, 4]].
std::string good_pickle() {
  return state_dict(
      "w", tensor(storage("FloatStorage", "0", int1(6)), 1, int1(2) + int1(2) + kTuple2, int1(1) + int1(2) + kTuple2));
}
std::string six_floats() {
  const float v[6] = {0, 1, 2, 3, 4, 5};
  return std::string(reinterpret_cast<const char*>(v), sizeof v);
}
}  // namespace pk

// A torch.save-like archive holding `pickle` and the storage record data/0.
std::string torch_archive(const std::string& pickle, bool deflate_pickle = false, const std::string& byteorder = "") {
  ZipBuilder z;
  z.add("archive/data.pkl", pickle, deflate_pickle);
  if (!byteorder.empty()) z.add("archive/byteorder", byteorder);
  z.add("archive/data/0", pk::six_floats());
  z.add("archive/version", "3\n");
  return z.finish();
}

struct Toy : torch::nn::Module {
  torch::nn::Linear fc{nullptr};
  Toy() { fc = register_module("fc", torch::nn::Linear(3, 2)); }
};

}  // namespace

class TestIo : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

  std::string path(const char* name) { return dir_.filePath(name).toStdString(); }

 private Q_SLOTS:
  void safetensorsRoundTrip() {
    gligen::io::StateDict in;
    in["f32"] = torch::randn({3, 5});
    in["f16"] = torch::randn({7}).to(torch::kFloat16);
    in["bf16"] = torch::randn({2, 2}).to(torch::kBFloat16);
    in["i64"] = torch::arange(10, torch::kLong).view({2, 5});
    in["u8"] = torch::tensor({1, 2, 250}, torch::kUInt8);
    in["empty"] = torch::empty({0, 4});
    in["scalar"] = torch::tensor(3.5);
    in["strided"] = torch::randn({4, 6}).t();  // not contiguous
    gligen::io::write_safetensors(path("rt.safetensors"), in, {{"format", "pt"}, {"note", "round trip"}});
    auto out = gligen::io::read_safetensors(path("rt.safetensors"));
    QCOMPARE(out.metadata.at("note"), std::string("round trip"));
    std::string why;
    QVERIFY2(tensors_equal(in, out.tensors, {}, why), why.c_str());
    QCOMPARE(out.tensors.at("scalar").dim(), int64_t(0));
  }

  void malformedSafetensors_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("mentions");
    auto st = [](const std::string& h, const std::string& d) {
      return QByteArray::fromStdString(safetensors_image(h, d));
    };
    const std::string d8(8, '\x01');
    QTest::newRow("too short") << QByteArray("\x05\x00\x00", 3) << "shorter than";
    QTest::newRow("huge header") << QByteArray::fromStdString(std::string("\xff\xff\xff\xff\xff\xff\x00\x00", 8) + "{}")
                                 << "exceeds";
    QTest::newRow("header past eof") << QByteArray::fromStdString(std::string("\x40\x00\x00\x00\x00\x00\x00\x00", 8) +
                                                                  "{}")
                                     << "past the end";
    QTest::newRow("not json") << st("{\"a\": nope}", "") << "not valid JSON";
    QTest::newRow("bad utf8") << st("{\"\xff\xfe\": 1}", "") << "not valid JSON";
    QTest::newRow("not object") << st("[1, 2]", "") << "does not start with '{'";
    QTest::newRow("entry not object") << st("{\"a\": 3}", "") << "not an object";
    QTest::newRow("no dtype") << st(R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", d8) << "no string dtype";
    QTest::newRow("no shape") << st(R"({"a": {"dtype": "F32", "data_offsets": [0, 8]}})", d8) << "no shape";
    QTest::newRow("no offsets") << st(R"({"a": {"dtype": "F32", "shape": [2]}})", d8) << "data_offsets";
    QTest::newRow("unknown dtype") << st(R"({"a": {"dtype": "F8", "shape": [2], "data_offsets": [0, 8]}})", d8)
                                   << "unsupported dtype";
    QTest::newRow("negative dim") << st(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", d8)
                                  << "non-negative";
    QTest::newRow("float dim") << st(R"({"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", d8)
                               << "non-negative";
    QTest::newRow("end before begin") << st(R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}})", d8)
                                      << "ends before";
    QTest::newRow("size mismatch") << st(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", d8)
                                   << "need 12";
    QTest::newRow("past eof") << st(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", d8)
                              << "past the end";
    QTest::newRow("overlap") << st(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, )"
                                   R"("b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                                   d8)
                             << "overlaps";
    QTest::newRow("gap") << st(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", d8) << "gap";
    QTest::newRow("uncovered tail") << st(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", d8)
                                    << "not covered";
    QTest::newRow("shape overflow")
        << st(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}})", d8)
        << "overflows";
    QTest::newRow("extra field") << st(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}})", d8)
                                 << "unknown field";
    QTest::newRow("metadata not strings") << st(R"({"__metadata__": {"a": 1}})", "") << "not a string";
  }
  void malformedSafetensors() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, mentions);
    const std::string file = path("bad.safetensors");
    write_bytes(file, bytes.toStdString());
    try {
      gligen::io::read_safetensors(file);
      QFAIL("expected gligen::Error");
    } catch (const gligen::Error& e) {
      const QString msg = QString::fromUtf8(e.what());
      QVERIFY2(msg.contains(QString::fromStdString(file)), qPrintable(msg));
      QVERIFY2(msg.contains(mentions), qPrintable(msg));
    }
  }

  void misalignedDataIsCopied() {
    // A header padded so the F32 data starts at an odd address: must load correctly (copied).
    const float v[2] = {1.5f, -2.25f};
    std::string data(reinterpret_cast<const char*>(v), 8);
    std::string header = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
    while ((8 + header.size()) % 4 != 1) header += ' ';
    write_bytes(path("odd.safetensors"), safetensors_image(header, data));
    auto t = gligen::io::read_safetensors(path("odd.safetensors")).tensors.at("a");
    QCOMPARE(t[0].item<float>(), 1.5f);
    QCOMPARE(t[1].item<float>(), -2.25f);
  }

  void unusualButValidSafetensors() {
    // Offsets need not follow the header's key order; empty tensors may sit anywhere
    // (begin == end); a scalar has shape []; __metadata__ is optional.
    const float v[3] = {0.5f, 1.5f, 2.5f};
    const std::string data(reinterpret_cast<const char*>(v), sizeof v);
    const std::string header =
        R"({"z": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "empty": {"dtype": "I64", "shape": [0, 3], )"
        R"("data_offsets": [8, 8]}, "a": {"dtype": "F32", "shape": [], "data_offsets": [8, 12]}})";
    write_bytes(path("unusual.safetensors"), safetensors_image(header, data));
    auto f = gligen::io::read_safetensors(path("unusual.safetensors"));
    QVERIFY(f.metadata.empty());
    QVERIFY(torch::equal(f.tensors.at("z"), torch::tensor({0.5f, 1.5f})));
    QCOMPARE(f.tensors.at("a").dim(), int64_t(0));
    QCOMPARE(f.tensors.at("a").item<float>(), 2.5f);
    QCOMPARE(f.tensors.at("empty").sizes().vec(), (std::vector<int64_t>{0, 3}));
    QCOMPARE(f.tensors.at("empty").scalar_type(), torch::kInt64);
  }

  void torchBinEqualsSafetensors_data() {
    QTest::addColumn<QString>("component");
    QTest::newRow("unet") << "unet";
    QTest::newRow("vae") << "vae";
    QTest::newRow("text_encoder") << "text_encoder";
  }
  void torchBinEqualsSafetensors() {
    QFETCH(QString, component);
    const std::string bin_dir = fixture("tiny-gligen-bin/" + component.toStdString());
    const std::string st_dir = fixture("tiny-gligen/" + component.toStdString());
    GLIGEN_REQUIRE_FIXTURE(bin_dir);
    auto files = gligen::io::find_component_weight_files(bin_dir);
    QCOMPARE(files.size(), size_t(1));
    QVERIFY(QString::fromStdString(files[0]).endsWith(".bin"));
    auto bin = gligen::io::load_component_weights(bin_dir);
    auto st = gligen::io::load_component_weights(st_dir);
    std::string why;
    // Old text-encoder checkpoints carry the position_ids buffer, which is not a parameter.
    QVERIFY2(tensors_equal(bin, st, {"text_model.embeddings.position_ids"}, why), why.c_str());
    if (component == "text_encoder") QVERIFY(bin.count("text_model.embeddings.position_ids"));
  }

  void damagedTorchBin_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("text_encoder") << "tiny-gligen-bin/text_encoder/pytorch_model.bin";
    QTest::newRow("unet") << "tiny-gligen-bin/unet/diffusion_pytorch_model.bin";
  }
  void damagedTorchBin() {
    QFETCH(QString, file);
    const std::string good = bytes_of(fixture(file.toStdString()));
    QVERIFY(!good.empty());
    int refused = 0;
    // Truncations everywhere from the start to just short of the end, and flipped bytes: each
    // must be a gligen::Error (or load, for harmless flips), never a crash or another exception.
    for (size_t cut : {size_t(0), size_t(10), size_t(100), good.size() / 3, good.size() / 2, good.size() - 200,
                       good.size() - 22, good.size() - 1}) {
      write_bytes(path("cut.bin"), good.substr(0, cut));
      try {
        gligen::io::read_torch_bin(path("cut.bin"));
      } catch (const gligen::Error& e) {
        ++refused;
        QVERIFY(QString::fromUtf8(e.what()).contains("cut.bin"));
      }
    }
    QCOMPARE(refused, 8);
    // Flipped bytes in the pickle (start of the file) and in the central directory (its end).
    std::vector<size_t> flips;
    for (size_t at = 40; at < 600; at += 7) flips.push_back(at);
    for (size_t at = good.size() - 1500; at < good.size(); at += 29) flips.push_back(at);
    for (size_t at : flips) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      write_bytes(path("flip.bin"), bad);
      try {
        gligen::io::read_torch_bin(path("flip.bin"));
      } catch (const gligen::Error&) {}
    }
    write_bytes(path("garbage.bin"), std::string(5000, '\x07'));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::io::read_torch_bin(path("garbage.bin")));
  }

  void datasetPthListReads() {
    const std::string pth = fixture("dataset/train_data.pth");
    GLIGEN_REQUIRE_FIXTURE(pth);
    auto root = gligen::io::read_torch_file(pth);
    QVERIFY(root->kind == gligen::io::PyValue::Kind::List);
    QVERIFY(root->items.size() >= 1);
    auto first = root->items[0];
    QVERIFY(first->get("file_path") && first->get("annos"));
    auto anno = first->get("annos")->items.at(0);
    QCOMPARE(anno->get("text_embeddings_before_projection")->tensor.numel(), int64_t(768));
    QCOMPARE(anno->get("bbox")->items.size(), size_t(4));
    // The JSON twin of the file holds the same boxes.
    std::ifstream in(fixture("dataset/train_data.json"));
    auto j = nlohmann::json::parse(in);
    QCOMPARE(anno->get("bbox")->items[2]->f, j[0]["annos"][0]["bbox"][2].get<double>());
    QCOMPARE(first->get("file_path")->s, j[0]["file_path"].get<std::string>());
  }

  void fp16OnlyFolder_data() { torchBinEqualsSafetensors_data(); }
  void fp16OnlyFolder() {
    QFETCH(QString, component);
    const std::string dir = fixture("tiny-gligen-fp16/" + component.toStdString());
    GLIGEN_REQUIRE_FIXTURE(dir);
    auto half = gligen::io::load_component_weights(dir);
    auto full = gligen::io::load_component_weights(fixture("tiny-gligen/" + component.toStdString()));
    QCOMPARE(half.size(), full.size());
    for (const auto& [k, t] : full) {
      QCOMPARE(half.at(k).scalar_type(), torch::kFloat16);
      QVERIFY2(torch::equal(half.at(k), t.to(torch::kFloat16)), k.c_str());
    }
  }

  void shardedFolder() {
    auto full = gligen::io::load_component_weights(fixture("tiny-gligen/vae"));
    QDir().mkpath(dir_.filePath("sharded"));
    gligen::io::StateDict a, b;
    nlohmann::json map;
    int k = 0;
    for (const auto& [name, t] : full) {
      const bool first = (k++ % 2) == 0;
      (first ? a : b)[name] = t;
      map[name] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors"
                        : "diffusion_pytorch_model-00002-of-00002.safetensors";
    }
    gligen::io::write_safetensors(path("sharded/diffusion_pytorch_model-00001-of-00002.safetensors"), a);
    gligen::io::write_safetensors(path("sharded/diffusion_pytorch_model-00002-of-00002.safetensors"), b);
    std::ofstream(path("sharded/diffusion_pytorch_model.safetensors.index.json"))
        << nlohmann::json{{"weight_map", map}}.dump();
    auto loaded = gligen::io::load_component_weights(path("sharded"));
    std::string why;
    QVERIFY2(tensors_equal(loaded, full, {}, why), why.c_str());
    QFile::remove(dir_.filePath("sharded/diffusion_pytorch_model-00002-of-00002.safetensors"));
    try {
      gligen::io::load_component_weights(path("sharded"));
      QFAIL("expected an error for the missing shard");
    } catch (const gligen::Error& e) {
      QVERIFY2(QString::fromUtf8(e.what()).contains("00002-of-00002"), e.what());
    }
  }

  void emptyFolderSaysWhatWasLookedFor() {
    QDir().mkpath(dir_.filePath("empty"));
    std::ofstream(path("empty/config.json")) << "{}";
    try {
      gligen::io::load_component_weights(path("empty"));
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      const QString msg = QString::fromUtf8(e.what());
      QVERIFY2(msg.contains("diffusion_pytorch_model") && msg.contains("config.json"), qPrintable(msg));
    }
  }

  void strictLoadListsEveryProblem() {
    Toy toy;
    gligen::io::StateDict w;
    w["fc.weight"] = torch::zeros({2, 4});  // wrong shape
    w["fc.extra"] = torch::zeros({1});      // unexpected
    // fc.bias missing
    try {
      gligen::io::load_strict(toy, w, "the toy model");
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      const QString msg = QString::fromUtf8(e.what());
      QVERIFY2(msg.contains("fc.bias") && msg.contains("fc.extra") &&
                   msg.contains("fc.weight: checkpoint [2, 4] vs model [2, 3]"),
               qPrintable(msg));
    }
    // Nothing was copied by the failed load; a good one copies and converts dtype.
    w.clear();
    w["fc.weight"] = torch::ones({2, 3}, torch::kFloat64);
    w["fc.bias"] = torch::full({2}, 2.0);
    gligen::io::load_strict(toy, w, "the toy model");
    QCOMPARE(toy.fc->weight.sum().item<float>(), 6.0f);
    QCOMPARE(toy.fc->weight.scalar_type(), torch::kFloat32);
  }

  void sharedLoadPointsIntoTheMapping() {
    Toy toy;
    gligen::io::StateDict w;
    w["fc.weight"] = torch::arange(6, torch::kFloat32).view({2, 3});
    w["fc.bias"] = torch::tensor({7.0f, 8.0f});
    gligen::io::write_safetensors(path("toy.safetensors"), w);
    auto mapped = gligen::io::read_safetensors(path("toy.safetensors")).tensors;
    const size_t shared =
        gligen::io::load_strict(toy, mapped, "the toy model", {}, gligen::io::WeightSharing::ShareWhenPossible);
    QCOMPARE(shared, size_t(2));
    // The module's own parameters now view the file's memory: no second copy.
    QCOMPARE(toy.fc->weight.data_ptr(), mapped.at("fc.weight").data_ptr());
    QCOMPARE(toy.fc->bias.data_ptr(), mapped.at("fc.bias").data_ptr());
    QVERIFY(torch::equal(toy.named_parameters()["fc.weight"], w.at("fc.weight")));
    {
      torch::NoGradGuard no_grad;
      auto y = toy.fc->forward(torch::ones({1, 3}));
      QVERIFY(torch::equal(y, torch::tensor({{10.0f, 20.0f}})));
    }
    // A dtype that differs is copied (and converted); copy mode never shares.
    mapped["fc.weight"] = mapped.at("fc.weight").to(torch::kFloat64);
    Toy other;
    QCOMPARE(gligen::io::load_strict(other, mapped, "the toy model", {}, gligen::io::WeightSharing::ShareWhenPossible),
             size_t(1));
    QVERIFY(other.fc->weight.data_ptr() != mapped.at("fc.weight").data_ptr());
    QCOMPARE(other.fc->weight.scalar_type(), torch::kFloat32);
    Toy copied;
    QCOMPARE(gligen::io::load_strict(copied, mapped, "the toy model"), size_t(0));
    QVERIFY(copied.fc->bias.data_ptr() != mapped.at("fc.bias").data_ptr());
    QVERIFY(torch::equal(copied.fc->bias, w.at("fc.bias")));
  }

  void weightReleasePolicy() {
    using gligen::io::WeightRelease;
    QCOMPARE(gligen::io::parse_weight_release("auto"), WeightRelease::Auto);
    QCOMPARE(gligen::io::parse_weight_release("always"), WeightRelease::Always);
    QCOMPARE(gligen::io::parse_weight_release("never"), WeightRelease::Never);
    for (auto m : {WeightRelease::Auto, WeightRelease::Always, WeightRelease::Never})
      QCOMPARE(gligen::io::parse_weight_release(gligen::io::to_string(m)), m);
    try {
      gligen::io::parse_weight_release("sometimes");
      QFAIL("an unknown mode was accepted");
    } catch (const gligen::Error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("'sometimes'") != std::string::npos && what.find("auto") != std::string::npos, e.what());
    }
    // Auto releases while the available memory is below the weights plus the reserve, and when it
    // cannot tell; Always and Never ignore the memory.
    const std::uint64_t weights = std::uint64_t(4) << 30, reserve = gligen::io::kWeightReleaseReserve;
    QVERIFY(!gligen::io::should_release_weights(WeightRelease::Auto, weights + reserve, weights));
    QVERIFY(gligen::io::should_release_weights(WeightRelease::Auto, weights + reserve - 1, weights));
    QVERIFY(gligen::io::should_release_weights(WeightRelease::Auto, std::nullopt, weights));
    QVERIFY(gligen::io::should_release_weights(WeightRelease::Always, weights * 100, weights));
    QVERIFY(!gligen::io::should_release_weights(WeightRelease::Never, 0, weights));
    // Linux reports it (MemAvailable, or the cgroup's limit), and it is never above the RAM.
    const auto available = gligen::io::available_memory_bytes();
    QVERIFY(available.has_value());
    QVERIFY(*available > 0);
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::uint64_t total_kib = 0;
    meminfo >> key >> total_kib;
    QCOMPARE(QString::fromStdString(key), QString("MemTotal:"));
    QVERIFY(*available <= total_kib * 1024);
  }

  void releasedWeightsKeepTheirValues() {
    torch::NoGradGuard no_grad;
    struct Wide : torch::nn::Module {
      torch::nn::Linear fc{nullptr};
      Wide() { fc = register_module("fc", torch::nn::Linear(1024, 1024)); }
    };
    Wide source;
    gligen::io::StateDict w;
    for (const auto& p : source.named_parameters()) w[p.key()] = p.value().detach().clone();
    gligen::io::write_safetensors(path("wide.safetensors"), w);
    const auto x = torch::randn({3, 1024});
    const auto expected = source.fc->forward(x);

    // Shared from a read-only mapping: the 4 MiB weight's pages are released (inward rounding
    // keeps its first and last partial page), and the module computes the same afterwards.
    Wide mapped;
    auto ro = gligen::io::read_safetensors(path("wide.safetensors"), gligen::MapAccess::ReadOnly).tensors;
    QCOMPARE(gligen::io::load_strict(mapped, ro, "wide", {}, gligen::io::WeightSharing::ShareWhenPossible), size_t(2));
    QVERIFY(torch::equal(mapped.fc->forward(x), expected));
    const std::size_t released = gligen::io::release_mapped_weights(mapped);
    QVERIFY2(released >= (4u << 20) - 2 * 4096 && released <= (4u << 20) + 4096, qPrintable(QString::number(released)));
    QVERIFY(torch::equal(mapped.fc->forward(x), expected));

    // Copy-on-write mappings (trainable in place) and copies are never released.
    Wide cow;
    auto rw = gligen::io::read_safetensors(path("wide.safetensors")).tensors;
    gligen::io::load_strict(cow, rw, "wide", {}, gligen::io::WeightSharing::ShareWhenPossible);
    QCOMPARE(gligen::io::release_mapped_weights(cow), size_t(0));
    Wide copied;
    gligen::io::load_strict(copied, ro, "wide");
    QCOMPARE(gligen::io::release_mapped_weights(copied), size_t(0));
    QVERIFY(torch::equal(copied.fc->forward(x), expected));
  }

  void componentDiscovery_data() {
    QTest::addColumn<QString>("dir");
    QTest::addColumn<QString>("variant");
    QTest::addColumn<QString>("file");
    QTest::newRow("fp32 unet") << "tiny-gligen/unet"
                               << ""
                               << "diffusion_pytorch_model.safetensors";
    QTest::newRow("fp32 text encoder") << "tiny-gligen/text_encoder"
                                       << ""
                                       << "model.safetensors";
    QTest::newRow("fp16-only, no variant asked") << "tiny-gligen-fp16/vae"
                                                 << ""
                                                 << "diffusion_pytorch_model.fp16.safetensors";
    QTest::newRow("fp16 variant asked") << "tiny-gligen-fp16/text_encoder"
                                        << "fp16"
                                        << "model.fp16.safetensors";
    QTest::newRow("fp16 asked, only fp32 there") << "tiny-gligen/unet"
                                                 << "fp16"
                                                 << "diffusion_pytorch_model.safetensors";
    QTest::newRow("bin-only unet") << "tiny-gligen-bin/unet"
                                   << ""
                                   << "diffusion_pytorch_model.bin";
    QTest::newRow("bin-only text encoder") << "tiny-gligen-bin/text_encoder"
                                           << ""
                                           << "pytorch_model.bin";
  }
  void componentDiscovery() {
    QFETCH(QString, dir);
    QFETCH(QString, variant);
    QFETCH(QString, file);
    const std::string d = fixture(dir.toStdString());
    GLIGEN_REQUIRE_FIXTURE(d);
    const auto files = gligen::io::find_component_weight_files(d, variant.toStdString());
    QCOMPARE(files.size(), size_t(1));
    QCOMPARE(QFileInfo(QString::fromStdString(files[0])).fileName(), file);
    QVERIFY(!gligen::io::load_component_weights(d, variant.toStdString()).empty());
  }

  void fp16UpcastAtLoad() {
    const std::string dir = fixture("tiny-gligen-fp16/text_encoder");
    GLIGEN_REQUIRE_FIXTURE(dir);
    gligen::io::WeightLoadOptions options;
    options.float_dtype = torch::kFloat32;
    auto up = gligen::io::load_component_weights(dir, options);
    auto full = gligen::io::load_component_weights(fixture("tiny-gligen/text_encoder"));
    QCOMPARE(up.size(), full.size());
    for (const auto& [k, t] : full) {
      QCOMPARE(up.at(k).scalar_type(), torch::kFloat32);
      QVERIFY2(torch::equal(up.at(k), t.to(torch::kFloat16).to(torch::kFloat32)), k.c_str());
    }
    // Integer tensors are not converted.
    auto bin = gligen::io::load_component_weights(fixture("tiny-gligen-bin/text_encoder"), options);
    QCOMPARE(bin.at("text_model.embeddings.position_ids").scalar_type(), torch::kInt64);
  }

  void shardedFolderErrors() {
    auto full = gligen::io::load_component_weights(fixture("tiny-gligen/text_encoder"));
    QDir().mkpath(dir_.filePath("shard_bad"));
    gligen::io::StateDict one = full;
    const std::string dropped = one.begin()->first;
    one.erase(one.begin());
    gligen::io::write_safetensors(path("shard_bad/model-00001-of-00001.safetensors"), one);
    nlohmann::json map;
    for (const auto& [name, t] : full) map[name] = "model-00001-of-00001.safetensors";
    std::ofstream(path("shard_bad/model.safetensors.index.json")) << nlohmann::json{{"weight_map", map}}.dump();
    try {
      gligen::io::load_component_weights(path("shard_bad"));
      QFAIL("expected an error for a tensor the shard lacks");
    } catch (const gligen::Error& e) {
      QVERIFY2(QString::fromUtf8(e.what()).contains(QString::fromStdString(dropped)), e.what());
    }
    std::ofstream(path("shard_bad/model.safetensors.index.json"), std::ios::trunc)
        << R"({"weight_map": {"a": "../elsewhere.safetensors"}})";
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::io::load_component_weights(path("shard_bad")));
    std::ofstream(path("shard_bad/model.safetensors.index.json"), std::ios::trunc) << "{not json";
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::io::load_component_weights(path("shard_bad")));
  }

  void craftedTorchArchive_data() {
    QTest::addColumn<bool>("deflate");
    QTest::addColumn<QString>("byteorder");
    QTest::newRow("stored") << false << "";
    QTest::newRow("deflated pickle") << true << "";
    QTest::newRow("byteorder little") << false << "little";
  }
  void craftedTorchArchive() {
    QFETCH(bool, deflate);
    QFETCH(QString, byteorder);
    write_bytes(path("crafted.bin"), torch_archive(pk::good_pickle(), deflate, byteorder.toStdString()));
    auto sd = gligen::io::read_torch_bin(path("crafted.bin"));
    QCOMPARE(sd.size(), size_t(1));
    QVERIFY2(torch::equal(sd.at("w"), torch::tensor({{1.0f, 3.0f}, {2.0f, 4.0f}})), "strided view of the storage");
  }

  void hostileTorchArchive_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("mentions");
    using namespace pk;
    auto arc = [](const std::string& pickle) { return QByteArray::fromStdString(torch_archive(pickle)); };
    const std::string size22 = int1(2) + int1(2) + kTuple2, stride12 = int1(1) + int1(2) + kTuple2;
    QTest::newRow("deep nesting") << arc(kProto + "N" + std::string(200000, '\x85') + ".") << "nest deeper";
    QTest::newRow("reference cycle") << arc(kProto + "]q" + le(0, 1) + "h" + le(0, 1) + "a.") << "cycle";
    QTest::newRow("cycle through a dict")
        << arc(kProto + "}q" + le(0, 1) + str("k") + "h" + le(0, 1) + "s.") << "cycle";
    QTest::newRow("text opcode") << arc(kProto + "I1\n.") << "unsupported pickle opcode 0x49 at offset 2";
    QTest::newRow("code execution") << arc(kProto + global("os", "system") + str("ls") + "\x85R.") << "os.system";
    QTest::newRow("stack underflow") << arc(kProto + "a.") << "underflow";
    QTest::newRow("unknown memo") << arc(kProto + "h" + le(5, 1) + ".") << "memo";
    QTest::newRow("no STOP") << arc(kProto + "N") << "ends early";
    QTest::newRow("truncated pickle") << arc(good_pickle().substr(0, 60)) << "truncated";
    QTest::newRow("numel overflows") << arc(state_dict("w",
                                                       tensor(storage("FloatStorage", "0", long1((1ull << 62) + 2)), 0,
                                                              int1(2) + "\x85", int1(1) + "\x85")))
                                     << "data/0";
    QTest::newRow("numel mismatch") << arc(state_dict(
                                           "w", tensor(storage("FloatStorage", "0", int1(7)), 0, size22, stride12)))
                                    << "expected 7";
    QTest::newRow("view outside storage")
        << arc(state_dict("w", tensor(storage("FloatStorage", "0", int1(6)), 3, size22, stride12)))
        << "outside its storage";
    QTest::newRow("missing record") << arc(state_dict(
                                           "w", tensor(storage("FloatStorage", "9", int1(6)), 0, size22, stride12)))
                                    << "data/9";
    QTest::newRow("unknown storage") << arc(state_dict("w", tensor(storage("ComplexFloatStorage", "0", int1(6)), 0,
                                                                   size22, stride12)))
                                     << "ComplexFloatStorage";
    QTest::newRow("tensor from a non-storage")
        << arc(state_dict("w", tensor(int1(3), 0, size22, stride12))) << "storage";
    QTest::newRow("not a tensor") << arc(state_dict("w", int1(3))) << "not a tensor";
    QTest::newRow("not a dict") << arc(kProto + "]" + ".") << "not a state dict";
    QTest::newRow("big-endian") << QByteArray::fromStdString(torch_archive(good_pickle(), false, "big")) << "endian";
    ZipBuilder no_pkl;
    no_pkl.add("notes/readme.txt", "hello");
    QTest::newRow("zip without data.pkl") << QByteArray::fromStdString(no_pkl.finish()) << "data.pkl";
    ZipBuilder bomb;
    bomb.add("archive/data.pkl", good_pickle(), /*deflate=*/true, /*claimed_size=*/0xfffffff0);
    QTest::newRow("inflated size lie") << QByteArray::fromStdString(bomb.finish()) << "claims";
    ZipBuilder short_claim;
    short_claim.add("archive/data.pkl", good_pickle(), /*deflate=*/true, /*claimed_size=*/10);
    QTest::newRow("deflated size too small") << QByteArray::fromStdString(short_claim.finish()) << "decompress";
    ZipBuilder bzip;
    bzip.add("archive/data.pkl", good_pickle(), false, -1, /*method=*/12);
    QTest::newRow("bzip2 entry") << QByteArray::fromStdString(bzip.finish()) << "compression method 12";
    std::string cd_past_eof = torch_archive(good_pickle());
    cd_past_eof.replace(cd_past_eof.size() - 6, 4, le(0x7fffffff, 4));  // central directory offset
    QTest::newRow("directory past EOF") << QByteArray::fromStdString(cd_past_eof) << "outside the file";
    std::string no_eocd = torch_archive(good_pickle());
    no_eocd.resize(no_eocd.size() - 22);
    QTest::newRow("no end record") << QByteArray::fromStdString(no_eocd) << "end-of-archive";
    QTest::newRow("empty file") << QByteArray() << "too short";
  }
  void hostileTorchArchive() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, mentions);
    const std::string file = path("hostile.bin");
    write_bytes(file, bytes.toStdString());
    try {
      gligen::io::read_torch_bin(file);
      QFAIL("expected gligen::Error");
    } catch (const gligen::Error& e) {
      const QString msg = QString::fromUtf8(e.what());
      QVERIFY2(msg.contains(QString::fromStdString(file)), qPrintable(msg));
      QVERIFY2(msg.contains(mentions), qPrintable(msg));
    }
  }
};

QTEST_GUILESS_MAIN(TestIo)
#include "test_io.moc"
