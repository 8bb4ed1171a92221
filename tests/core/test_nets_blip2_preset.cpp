// core/nets: the BLIP-2 model presets (init-model --preset blip2-flan-t5-xl|xxl) and the random
// folder writer behind them.
//  - The xxl preset's tensor names, shapes and parameter count equal the real checkpoint's
//    inventory (datagen/blip2/full_size/param_inventory.json), and its config.json agrees with the
//    release's full config (config_full.json) on every key it writes; checked from the model
//    class without writing 49 GB.
//  - The xl preset has the same tensor names, and the same vision / Q-Former shapes.
//  - The writer itself, on the fixture's tiny config: the tensor set equals the fixture
//    checkpoint's, sharding writes model-0000k-of-0000n files with an index like the fixture's
//    sharded copy, the folder loads strictly in the captioner and captions, and the synthetic
//    T5 tokenizer decodes every id it has.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/data/grounding_dataset.h"
#include "core/io/safetensors.h"
#include "core/nets/blip2_captioner.h"
#include "core/nets/blip2_preset.h"
#include "core/tokenizer/t5_tokenizer.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using namespace gligen;

namespace {

const std::string kRoot = "datagen/blip2";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::map<std::string, std::vector<int64_t>> spec_map(const std::vector<nets::Blip2TensorSpec>& specs) {
  std::map<std::string, std::vector<int64_t>> m;
  for (const auto& s : specs) m[s.name] = s.shape;
  return m;
}

// Every key `written` sets that `reference` also has must have the same value (numbers as doubles).
void expect_agrees(const nlohmann::json& written, const nlohmann::json& reference, const std::string& where) {
  static const std::set<std::string> not_compared{"architectures", "torch_dtype", "transformers_version",
                                                  "_gligen_studio_preset", "_gligen_studio_note"};
  for (auto it = written.begin(); it != written.end(); ++it) {
    if (not_compared.count(it.key()) || !reference.contains(it.key())) continue;
    const auto& ref = reference.at(it.key());
    const std::string key = where + it.key();
    if (it->is_object()) {
      expect_agrees(*it, ref, key + ".");
    } else if (it->is_number()) {
      QVERIFY2(ref.is_number() && it->get<double>() == ref.get<double>(), qPrintable(QString::fromStdString(key)));
    } else {
      QVERIFY2(*it == ref, qPrintable(QString::fromStdString(key + ": " + it->dump() + " vs " + ref.dump())));
    }
  }
}

}  // namespace

class TestNetsBlip2Preset : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  nlohmann::json inventory_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    GLIGEN_REQUIRE_FIXTURE(test::fixture(kRoot + "/full_size/param_inventory.json"));
    inventory_ = read_json(test::fixture(kRoot + "/full_size/param_inventory.json"));
  }

  void xxlMatchesTheReleaseInventory() {
    const auto config = nets::blip2_preset_config("blip2-flan-t5-xxl");
    const auto specs = nets::blip2_checkpoint_tensors(config);
    std::set<std::string> expected;
    for (const auto& k : inventory_.at("state_dict_keys_saved_by_save_pretrained"))
      expected.insert(k.get<std::string>());
    std::set<std::string> got;
    for (const auto& s : specs) got.insert(s.name);
    for (const auto& k : expected) QVERIFY2(got.count(k), qPrintable(QString::fromStdString("missing " + k)));
    for (const auto& k : got) QVERIFY2(expected.count(k), qPrintable(QString::fromStdString("unexpected " + k)));
    int64_t total = 0;
    for (const auto& s : specs) {
      const auto& p = inventory_.at("parameters").at(s.name);
      QCOMPARE(s.shape, p.at("shape").get<std::vector<int64_t>>());
      int64_t n = 1;
      for (auto d : s.shape) n *= d;
      total += n;
    }
    QCOMPARE(total, inventory_.at("unique_parameter_count").get<int64_t>());
    expect_agrees(config, read_json(test::fixture(kRoot + "/full_size/config_full.json")), "");
  }

  void xlHasTheSameLayout() {
    const auto xl = spec_map(nets::blip2_checkpoint_tensors(nets::blip2_preset_config("blip2-flan-t5-xl")));
    std::set<std::string> expected;
    for (const auto& k : inventory_.at("state_dict_keys_saved_by_save_pretrained"))
      expected.insert(k.get<std::string>());
    QCOMPARE(xl.size(), expected.size());
    for (const auto& [name, shape] : xl) {
      QVERIFY2(expected.count(name), qPrintable(QString::fromStdString("unexpected " + name)));
      if (name.rfind("language_model.", 0) == 0 || name.rfind("language_projection.", 0) == 0) continue;
      QCOMPARE(shape, inventory_.at("parameters").at(name).at("shape").get<std::vector<int64_t>>());
    }
    QVERIFY_EXCEPTION_THROWN(nets::blip2_preset_config("blip2-opt-2.7b"), Error);
  }

  // The writer on the fixture's tiny architecture, sharded, read back and captioning.
  void tinyFolderLoadsAndCaptions() {
    const auto config = read_json(test::fixture(kRoot + "/model/config.json"));
    const auto reference = io::read_safetensors(test::fixture(kRoot + "/model/model.safetensors"));
    std::uint64_t reference_bytes = 0;
    for (const auto& [name, t] : reference.tensors) reference_bytes += t.numel() * 4;
    nets::Blip2PresetOptions o;
    o.seed = 3;
    o.max_shard_bytes = reference_bytes / 3;  // a few shards
    const std::string out = dir_.filePath("tiny").toStdString();
    nets::write_blip2_random_folder(config, out, o);

    const auto index = read_json(out + "/model.safetensors.index.json");
    const auto fixture_index = read_json(test::fixture(kRoot + "/model_sharded/model.safetensors.index.json"));
    QVERIFY(fixture_index.contains("weight_map") && fixture_index.at("metadata").contains("total_size"));
    QCOMPARE(index.at("metadata").at("total_size").get<std::uint64_t>(), reference_bytes);
    QCOMPARE(index.at("weight_map").size(), reference.tensors.size());
    std::set<std::string> files;
    for (const auto& [name, file] : index.at("weight_map").items()) files.insert(file.get<std::string>());
    QVERIFY(files.size() >= 3);
    size_t k = 1;
    for (const auto& f : files) {
      char expect[64];
      std::snprintf(expect, sizeof expect, "model-%05zu-of-%05zu.safetensors", k++, files.size());
      QCOMPARE(QString::fromStdString(f), QString(expect));
      const auto shard = io::read_safetensors(out + "/" + f);
      for (const auto& [name, t] : shard.tensors) {
        QVERIFY2(reference.tensors.count(name), name.c_str());
        QCOMPARE(t.sizes().vec(), reference.tensors.at(name).sizes().vec());
        QCOMPARE(t.scalar_type(), torch::kFloat32);
        QCOMPARE(QString::fromStdString(index.at("weight_map").at(name).get<std::string>()), QString::fromStdString(f));
      }
    }

    // Loads strictly, captions (one caption per box), and the tokenizer decodes every id it has.
    auto captioner = nets::Blip2Captioner::load(out);
    const auto cases = read_json(test::fixture(kRoot + "/cases.json"));
    const auto& c = cases.at("cases").front();
    const auto image = data::read_rgb8(test::fixture(kRoot + "/" + c.at("image").get<std::string>()));
    QVERIFY(image.has_value());
    const auto captions = captioner.caption(
        *image, {data::CropBox{0, 0, double(image->width), double(image->height)}, data::CropBox{1, 2, 30, 40}});
    QCOMPARE(captions.size(), size_t(2));
    const auto& tok = captioner.tokenizer();
    QVERIFY(tok.size() > tok.piece_count());
    QCOMPARE(tok.id_to_token(tok.size() - 1), std::string("<extra_id_0>"));
    QCOMPARE(tok.decode({tok.pad_id(), tok.eos_id()}), std::string());
    std::vector<int64_t> all;
    for (int64_t id = 0; id < tok.size(); ++id) all.push_back(id);
    QVERIFY(!tok.decode(all).empty());
    QVERIFY_EXCEPTION_THROWN(nets::write_blip2_random_folder(config, out, o), Error);  // not empty: refused
  }

  // The preset tokenizer covers the real model's decodable ids: its size is below the vocabulary of
  // the release config, and lm_head rows past it are zero so random weights never pick them.
  void syntheticTokenizerFitsTheVocabulary() {
    const auto full = read_json(test::fixture(kRoot + "/full_size/config.json"));
    const int64_t vocab = full.at("text_config").at("vocab_size").get<int64_t>();
    auto config = read_json(test::fixture(kRoot + "/model/config.json"));
    config["text_config"]["vocab_size"] = vocab;  // the tiny model with the release vocabulary
    nets::Blip2PresetOptions o;
    o.dtype = "bfloat16";
    const std::string out = dir_.filePath("tiny-vocab").toStdString();
    nets::write_blip2_random_folder(config, out, o);
    const tokenizer::T5Tokenizer tok(out);
    QVERIFY(tok.size() <= vocab);
    const auto weights = io::read_safetensors(out + "/model.safetensors");
    const auto& head = weights.tensors.at("language_model.lm_head.weight");
    QCOMPARE(head.scalar_type(), torch::kBFloat16);
    QCOMPARE(head.size(0), vocab);
    QVERIFY(head.narrow(0, tok.size(), vocab - tok.size()).abs().max().item<float>() == 0.0f);
    QVERIFY(head.narrow(0, 0, tok.size()).abs().max().item<float>() > 0.0f);
    QCOMPARE(read_json(out + "/config.json").at("torch_dtype").get<std::string>(), std::string("bfloat16"));
  }
};

QTEST_GUILESS_MAIN(TestNetsBlip2Preset)
#include "test_nets_blip2_preset.moc"
