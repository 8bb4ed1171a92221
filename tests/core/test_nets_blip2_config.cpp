// core/nets: BLIP-2 (Flan-T5) configuration and weight loading, from the BLIP-2 fixtures
// (datagen/blip2): sparse config.json files resolve to the defaults transformers applies
// (cases.json["tiny_config_full"], full_size/config_full.json), the generation settings equal
// cases.json["resolved_generation"], the single-file, sharded and .bin folders load strictly and
// alike, bad folders fail with one clear error, OPT language models are refused.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/io/safetensors.h"
#include "core/io/torch_save.h"
#include "core/nets/blip2_model.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using namespace gligen;
namespace fs = std::filesystem;

namespace {

const std::string kRoot = "datagen/blip2";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(1); }

// Every value a parsed config holds, compared with the fully resolved reference config.
void compare_with_full_config(const nets::Blip2Config& c, const nlohmann::json& full) {
  const auto& v = full.at("vision_config");
  QCOMPARE(c.vision.hidden_size, v.at("hidden_size").get<int64_t>());
  QCOMPARE(c.vision.intermediate_size, v.at("intermediate_size").get<int64_t>());
  QCOMPARE(c.vision.num_hidden_layers, v.at("num_hidden_layers").get<int64_t>());
  QCOMPARE(c.vision.num_attention_heads, v.at("num_attention_heads").get<int64_t>());
  QCOMPARE(c.vision.image_size, v.at("image_size").get<int64_t>());
  QCOMPARE(c.vision.patch_size, v.at("patch_size").get<int64_t>());
  QCOMPARE(c.vision.hidden_act, v.at("hidden_act").get<std::string>());
  QCOMPARE(c.vision.layer_norm_eps, v.at("layer_norm_eps").get<double>());
  QCOMPARE(c.vision.qkv_bias, v.at("qkv_bias").get<bool>());
  const auto& q = full.at("qformer_config");
  QCOMPARE(c.qformer.hidden_size, q.at("hidden_size").get<int64_t>());
  QCOMPARE(c.qformer.num_hidden_layers, q.at("num_hidden_layers").get<int64_t>());
  QCOMPARE(c.qformer.num_attention_heads, q.at("num_attention_heads").get<int64_t>());
  QCOMPARE(c.qformer.intermediate_size, q.at("intermediate_size").get<int64_t>());
  QCOMPARE(c.qformer.hidden_act, q.at("hidden_act").get<std::string>());
  QCOMPARE(c.qformer.layer_norm_eps, q.at("layer_norm_eps").get<double>());
  QCOMPARE(c.qformer.cross_attention_frequency, q.at("cross_attention_frequency").get<int64_t>());
  QCOMPARE(c.qformer.encoder_hidden_size, q.at("encoder_hidden_size").get<int64_t>());
  QCOMPARE(c.qformer.position_embedding_type, q.at("position_embedding_type").get<std::string>());
  const auto& t = full.at("text_config");
  QCOMPARE(c.text.vocab_size, t.at("vocab_size").get<int64_t>());
  QCOMPARE(c.text.d_model, t.at("d_model").get<int64_t>());
  QCOMPARE(c.text.d_kv, t.at("d_kv").get<int64_t>());
  QCOMPARE(c.text.d_ff, t.at("d_ff").get<int64_t>());
  QCOMPARE(c.text.num_layers, t.at("num_layers").get<int64_t>());
  QCOMPARE(c.text.num_decoder_layers, t.at("num_decoder_layers").get<int64_t>());
  QCOMPARE(c.text.num_heads, t.at("num_heads").get<int64_t>());
  QCOMPARE(c.text.relative_attention_num_buckets, t.at("relative_attention_num_buckets").get<int64_t>());
  QCOMPARE(c.text.relative_attention_max_distance, t.at("relative_attention_max_distance").get<int64_t>());
  QCOMPARE(c.text.layer_norm_epsilon, t.at("layer_norm_epsilon").get<double>());
  QCOMPARE(c.text.feed_forward_proj, t.at("feed_forward_proj").get<std::string>());
  QCOMPARE(c.text.dense_act_fn, t.at("dense_act_fn").get<std::string>());
  QCOMPARE(c.text.is_gated_act, t.at("is_gated_act").get<bool>());
  QCOMPARE(c.text.tie_word_embeddings, t.at("tie_word_embeddings").get<bool>());
  QCOMPARE(c.text.max_length, t.at("max_length").get<int64_t>());
  QCOMPARE(c.text.min_length, t.at("min_length").get<int64_t>());
  QCOMPARE(c.text.num_beams, t.at("num_beams").get<int64_t>());
  QCOMPARE(c.text.do_sample, t.at("do_sample").get<bool>());
  QCOMPARE(c.text.pad_token_id, t.at("pad_token_id").get<int64_t>());
  QCOMPARE(c.text.eos_token_id, t.at("eos_token_id").get<int64_t>());
  QCOMPARE(c.num_query_tokens, full.at("num_query_tokens").get<int64_t>());
  QCOMPARE(c.tie_word_embeddings, full.at("tie_word_embeddings").get<bool>());
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

// Parameter names with every layer index replaced by N.
std::set<std::string> name_patterns(const std::vector<std::string>& names) {
  static const std::regex index(R"(\.\d+\.)");
  std::set<std::string> out;
  for (const auto& n : names) out.insert(std::regex_replace(n, index, ".N."));
  return out;
}

}  // namespace

class TestNetsBlip2Config : public QObject {
  Q_OBJECT

  nlohmann::json cases_;
  std::string model_dir_, sharded_dir_;

  void expect_load_error(const std::string& dir, const std::vector<std::string>& needles) {
    const auto message = error_of([&] { nets::load_blip2_model(dir); });
    QVERIFY2(!message.empty(), "expected a gligen::Error");
    for (const auto& n : needles) QVERIFY2(message.find(n) != std::string::npos, (n + " not in: " + message).c_str());
  }

  // A copy of the single-file model folder's config.json next to `weights` saved as safetensors.
  std::string folder_with(QTemporaryDir& dir, const io::StateDict& weights) {
    const std::string d = dir.path().toStdString();
    fs::copy_file(model_dir_ + "/config.json", d + "/config.json");
    io::write_safetensors(d + "/model.safetensors", weights);
    return d;
  }

 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture(kRoot + "/cases.json"));
    cases_ = read_json(test::fixture(kRoot + "/cases.json"));
    model_dir_ = test::fixture(kRoot + "/" + cases_.at("model_dir").get<std::string>());
    sharded_dir_ = test::fixture(kRoot + "/" + cases_.at("model_sharded_dir").get<std::string>());
    GLIGEN_REQUIRE_FIXTURE(model_dir_ + "/config.json");
    GLIGEN_REQUIRE_FIXTURE(sharded_dir_ + "/model.safetensors.index.json");
  }

  // The tiny config.json lists only non-default values; the rest are the class defaults.
  void tinyConfigResolvesDefaults() {
    const auto c = nets::load_blip2_config(model_dir_);
    compare_with_full_config(c, cases_.at("tiny_config_full"));
  }

  // The real blip2-flan-t5-xxl config (sparse) resolves to its full form.
  void fullSizeConfigResolvesDefaults() {
    const auto sparse = test::fixture(kRoot + "/full_size/config.json");
    const auto full = test::fixture(kRoot + "/full_size/config_full.json");
    GLIGEN_REQUIRE_FIXTURE(sparse);
    GLIGEN_REQUIRE_FIXTURE(full);
    const auto c = nets::blip2_config_from_json(read_json(sparse), sparse);
    compare_with_full_config(c, read_json(full));
  }

  // The settings language_model.generate() resolves from text_config.
  void generationSettings() {
    const auto c = nets::load_blip2_config(model_dir_);
    const auto& g = cases_.at("resolved_generation");
    QCOMPARE(c.text.max_length, g.at("max_length").get<int64_t>());
    QCOMPARE(c.text.min_length, g.at("min_length").get<int64_t>());
    QCOMPARE(c.text.num_beams, g.at("num_beams").get<int64_t>());
    QCOMPARE(c.text.do_sample, g.at("do_sample").get<bool>());
    QCOMPARE(c.text.start_token_id(), g.at("decoder_start_token_id").get<int64_t>());
    QCOMPARE(c.text.eos_token_id, g.at("eos_token_id").get<int64_t>());
    QCOMPARE(c.text.pad_token_id, g.at("pad_token_id").get<int64_t>());
    QCOMPARE(c.text.bos_token_id, g.at("bos_token_id").get<int64_t>());
    QCOMPARE(c.text.use_cache, g.at("use_cache").get<bool>());
    QVERIFY(g.at("max_new_tokens").is_null());
  }

  // The image processor settings the fixtures ran with.
  void imageProcessorConfig() {
    const auto p = nets::load_blip_image_processor_config(model_dir_);
    const auto& ref = cases_.at("image_processor");
    QCOMPARE(p.height, ref.at("size").at("height").get<int64_t>());
    QCOMPARE(p.width, ref.at("size").at("width").get<int64_t>());
    QCOMPARE(p.resample, ref.at("resample").get<int64_t>());
    QCOMPARE(p.rescale_factor, ref.at("rescale_factor").get<double>());
    QCOMPARE(p.image_mean, ref.at("image_mean").get<std::vector<double>>());
    QCOMPARE(p.image_std, ref.at("image_std").get<std::vector<double>>());
    // The class defaults when keys are absent (BlipImageProcessor: 384x384, bicubic, CLIP stats).
    const auto d = nets::blip_image_processor_config_from_json(nlohmann::json::object());
    QCOMPARE(d.height, int64_t(384));
    QCOMPARE(d.resample, int64_t(3));
  }

  void optLanguageModelIsRefused() {
    auto j = read_json(model_dir_ + "/config.json");
    j["text_config"] = {{"model_type", "opt"}, {"vocab_size", 50272}};
    auto message = error_of([&] { nets::blip2_config_from_json(j, "config.json"); });
    QVERIFY2(message.find("\"opt\"") != std::string::npos, message.c_str());
    // Blip2Config reads a text_config without model_type as OPT too.
    j["text_config"].erase("model_type");
    message = error_of([&] { nets::blip2_config_from_json(j, "config.json"); });
    QVERIFY2(message.find("\"opt\"") != std::string::npos, message.c_str());
  }

  void badConfigValuesNameTheKey() {
    auto j = read_json(model_dir_ + "/config.json");
    j["vision_config"]["hidden_size"] = "wide";
    auto message = error_of([&] { nets::blip2_config_from_json(j, "config.json"); });
    QVERIFY2(message.find("hidden_size") != std::string::npos && message.find("vision_config") != std::string::npos,
             message.c_str());
    j = read_json(model_dir_ + "/config.json");
    j["text_config"]["num_beams"] = 4;
    message = error_of([&] { nets::blip2_config_from_json(j, "config.json"); });
    QVERIFY2(message.find("num_beams") != std::string::npos, message.c_str());
    j = read_json(model_dir_ + "/config.json");
    j["text_config"]["feed_forward_proj"] = "fancy-gated-gelu";
    j["text_config"].erase("dense_act_fn");
    message = error_of([&] { nets::blip2_config_from_json(j, "config.json"); });
    QVERIFY2(message.find("feed_forward_proj") != std::string::npos, message.c_str());
  }

  // T5Config: "gated-gelu" means gelu_new unless dense_act_fn is given (BLIP-2 gives "gelu").
  void feedForwardProjDerivation() {
    auto j = read_json(model_dir_ + "/config.json");
    j["text_config"]["feed_forward_proj"] = "gated-gelu";
    j["text_config"].erase("dense_act_fn");
    j["text_config"].erase("is_gated_act");
    auto c = nets::blip2_config_from_json(j, "config.json");
    QCOMPARE(c.text.dense_act_fn, std::string("gelu_new"));
    QVERIFY(c.text.is_gated_act);
    j["text_config"]["feed_forward_proj"] = "relu";
    c = nets::blip2_config_from_json(j, "config.json");
    QCOMPARE(c.text.dense_act_fn, std::string("relu"));
    QVERIFY(!c.text.is_gated_act);
  }

  // Single-file and sharded folders load strictly to the same parameters.
  void singleAndShardedLoadAlike() {
    torch::NoGradGuard no_grad;
    auto single = nets::load_blip2_model(model_dir_);
    auto sharded = nets::load_blip2_model(sharded_dir_);
    const auto file = io::read_safetensors(model_dir_ + "/model.safetensors").tensors;
    const auto a = single->named_parameters(), b = sharded->named_parameters();
    QCOMPARE(a.size(), file.size());
    QCOMPARE(b.size(), a.size());
    for (const auto& p : a) {
      QVERIFY2(file.count(p.key()), p.key().c_str());
      QVERIFY2(torch::equal(p.value(), file.at(p.key())), p.key().c_str());
      QVERIFY2(torch::equal(p.value(), b[p.key()]), p.key().c_str());
    }
  }

  // pytorch_model.bin loads through the same loader.
  void binCheckpointLoads() {
    torch::NoGradGuard no_grad;
    const auto file = io::read_safetensors(model_dir_ + "/model.safetensors").tensors;
    QTemporaryDir dir;
    const std::string d = dir.path().toStdString();
    fs::copy_file(model_dir_ + "/config.json", d + "/config.json");
    io::TorchFileWriter w(d + "/pytorch_model.bin");
    w.begin_dict();
    for (const auto& [name, t] : file) {
      w.key(name);
      w.tensor(t);
    }
    w.end_dict();
    w.finish();
    auto model = nets::load_blip2_model(d);
    for (const auto& p : model->named_parameters())
      QVERIFY2(torch::equal(p.value(), file.at(p.key())), p.key().c_str());
  }

  // Every missing, unexpected and mis-shaped key in one error; tied aliases are accepted.
  void strictLoadingListsEveryProblem() {
    auto weights = io::read_safetensors(model_dir_ + "/model.safetensors").tensors;
    QVERIFY(weights.size() >= 2);
    const std::string dropped = weights.begin()->first;
    const std::string reshaped = weights.rbegin()->first;
    weights.erase(dropped);
    weights[reshaped] = torch::zeros({weights[reshaped].numel() + 1});
    weights["vision_model.bogus.weight"] = torch::zeros({2});
    QTemporaryDir dir;
    expect_load_error(folder_with(dir, weights), {dropped, reshaped, "vision_model.bogus.weight"});

    auto aliased = io::read_safetensors(model_dir_ + "/model.safetensors").tensors;
    aliased["language_model.encoder.embed_tokens.weight"] = aliased.at("language_model.shared.weight");
    aliased["language_model.decoder.embed_tokens.weight"] = aliased.at("language_model.shared.weight");
    QTemporaryDir dir2;
    auto model = nets::load_blip2_model(folder_with(dir2, aliased));
    QVERIFY(torch::equal(model->language_model->shared->weight, aliased.at("language_model.shared.weight")));
  }

  void missingFolderOrWeights() {
    expect_load_error(model_dir_ + "/no-such-folder", {"no-such-folder"});
    QTemporaryDir dir;
    fs::copy_file(model_dir_ + "/config.json", dir.path().toStdString() + "/config.json");
    expect_load_error(dir.path().toStdString(), {dir.path().toStdString()});
  }

  // The module tree has the real checkpoint's parameter names (layer indices aside): compared
  // with full_size/param_inventory.json, which lists every name of blip2-flan-t5-xxl.
  void namesFollowTheRealCheckpoint() {
    const auto inventory_path = test::fixture(kRoot + "/full_size/param_inventory.json");
    GLIGEN_REQUIRE_FIXTURE(inventory_path);
    const auto inventory = read_json(inventory_path);
    std::vector<std::string> real;
    for (const auto& name : inventory.at("state_dict_keys_saved_by_save_pretrained")) real.push_back(name);
    auto model = nets::Blip2ForConditionalGeneration(nets::load_blip2_config(model_dir_));
    std::vector<std::string> ours;
    for (const auto& p : model->named_parameters()) ours.push_back(p.key());
    const auto got = name_patterns(ours), want = name_patterns(real);
    std::string differences;
    for (const auto& n : want)
      if (!got.count(n)) differences += " missing:" + n;
    for (const auto& n : got)
      if (!want.count(n)) differences += " extra:" + n;
    QVERIFY2(differences.empty(), differences.c_str());
    QVERIFY(!got.empty());
    // The aliases transformers lists among its parameters are the ones the loader accepts.
    for (const auto& [alias, target] : inventory.at("tied_aliases").items()) {
      QVERIFY2(nets::blip2_ignored_keys(model->config()).count(alias), alias.c_str());
      QCOMPARE(target.get<std::string>(), std::string("language_model.shared.weight"));
    }
  }

  // Parameter shapes at full size: the real blip2-flan-t5-xxl config with its stacks cut to the
  // fewest layers that still hold every kind of parameter (ViT 1, Q-Former one cross-attention
  // period, T5 1 + 1) gives exactly the inventory's shapes for every name. The parameters are
  // allocated but never written, so this stays cheap (about 2.6 GB of untouched address space).
  void fullSizeShapesMatchTheInventory() {
    const auto config_path = test::fixture(kRoot + "/full_size/config.json");
    const auto inventory_path = test::fixture(kRoot + "/full_size/param_inventory.json");
    GLIGEN_REQUIRE_FIXTURE(config_path);
    GLIGEN_REQUIRE_FIXTURE(inventory_path);
    auto config = nets::blip2_config_from_json(read_json(config_path), config_path);
    config.vision.num_hidden_layers = 1;
    config.qformer.num_hidden_layers =
        std::min<int64_t>(config.qformer.cross_attention_frequency + 1, config.qformer.num_hidden_layers);
    config.text.num_layers = config.text.num_decoder_layers = 1;
    const auto inventory = read_json(inventory_path).at("parameters");
    torch::NoGradGuard no_grad;
    nets::Blip2ForConditionalGeneration model(config);
    int64_t checked = 0;
    for (const auto& p : model->named_parameters()) {
      QVERIFY2(inventory.contains(p.key()), p.key().c_str());
      const auto shape = inventory.at(p.key()).at("shape").get<std::vector<int64_t>>();
      QVERIFY2(p.value().sizes().vec() == shape, p.key().c_str());
      ++checked;
    }
    qInfo("%lld full-size parameter shapes match the inventory", static_cast<long long>(checked));
    QVERIFY(checked > 0);
  }
};

QTEST_GUILESS_MAIN(TestNetsBlip2Config)
#include "test_nets_blip2_config.moc"
