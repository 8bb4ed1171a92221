// core/io: safetensors round trips and a corpus of malformed files, torch.save (.bin) state
// dicts, fp16-only and sharded component folders, and strict loading.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/io/state_dict.h"
#include "core/io/torch_pickle.h"
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
    auto st = [](const std::string& h, const std::string& d) { return QByteArray::fromStdString(safetensors_image(h, d)); };
    const std::string d8(8, '\x01');
    QTest::newRow("too short") << QByteArray("\x05\x00\x00", 3) << "shorter than";
    QTest::newRow("huge header") << QByteArray::fromStdString(std::string("\xff\xff\xff\xff\xff\xff\x00\x00", 8) + "{}") << "exceeds";
    QTest::newRow("header past eof") << QByteArray::fromStdString(std::string("\x40\x00\x00\x00\x00\x00\x00\x00", 8) + "{}") << "past the end";
    QTest::newRow("not json") << st("{\"a\": nope}", "") << "not valid JSON";
    QTest::newRow("bad utf8") << st("{\"\xff\xfe\": 1}", "") << "not valid JSON";
    QTest::newRow("not object") << st("[1, 2]", "") << "does not start with '{'";
    QTest::newRow("entry not object") << st("{\"a\": 3}", "") << "not an object";
    QTest::newRow("no dtype") << st(R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", d8) << "no string dtype";
    QTest::newRow("no shape") << st(R"({"a": {"dtype": "F32", "data_offsets": [0, 8]}})", d8) << "no shape";
    QTest::newRow("no offsets") << st(R"({"a": {"dtype": "F32", "shape": [2]}})", d8) << "data_offsets";
    QTest::newRow("unknown dtype") << st(R"({"a": {"dtype": "F8", "shape": [2], "data_offsets": [0, 8]}})", d8) << "unsupported dtype";
    QTest::newRow("negative dim") << st(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", d8) << "non-negative";
    QTest::newRow("float dim") << st(R"({"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", d8) << "non-negative";
    QTest::newRow("end before begin") << st(R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}})", d8) << "ends before";
    QTest::newRow("size mismatch") << st(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", d8) << "need 12";
    QTest::newRow("past eof") << st(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", d8) << "past the end";
    QTest::newRow("overlap") << st(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", d8) << "overlaps";
    QTest::newRow("gap") << st(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", d8) << "gap";
    QTest::newRow("uncovered tail") << st(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", d8) << "not covered";
    QTest::newRow("shape overflow") << st(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}})", d8) << "overflows";
    QTest::newRow("extra field") << st(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}})", d8) << "unknown field";
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

  void damagedTorchBin() {
    const std::string good = bytes_of(fixture("tiny-gligen-bin/text_encoder/pytorch_model.bin"));
    QVERIFY(!good.empty());
    int refused = 0;
    // Truncations everywhere from the start to just short of the end, and flipped bytes in
    // the pickle: each must be a gligen::Error (or load, for harmless flips), never a crash.
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
    for (size_t at = 40; at < 600; at += 7) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      write_bytes(path("flip.bin"), bad);
      try {
        gligen::io::read_torch_bin(path("flip.bin"));
      } catch (const gligen::Error&) {
      }
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

  void fp16OnlyFolder() {
    const std::string dir = fixture("tiny-gligen-fp16/unet");
    GLIGEN_REQUIRE_FIXTURE(dir);
    auto half = gligen::io::load_component_weights(dir);
    auto full = gligen::io::load_component_weights(fixture("tiny-gligen/unet"));
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
      map[name] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors" : "diffusion_pytorch_model-00002-of-00002.safetensors";
    }
    gligen::io::write_safetensors(path("sharded/diffusion_pytorch_model-00001-of-00002.safetensors"), a);
    gligen::io::write_safetensors(path("sharded/diffusion_pytorch_model-00002-of-00002.safetensors"), b);
    std::ofstream(path("sharded/diffusion_pytorch_model.safetensors.index.json")) << nlohmann::json{{"weight_map", map}}.dump();
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
      QVERIFY2(msg.contains("fc.bias") && msg.contains("fc.extra") && msg.contains("fc.weight: checkpoint [2, 4] vs model [2, 3]"),
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
};

QTEST_GUILESS_MAIN(TestIo)
#include "test_io.moc"
