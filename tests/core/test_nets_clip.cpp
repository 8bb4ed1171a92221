// core/nets: CLIPTextModel against transformers (reference/text_encoder.safetensors made with
// the tiny-gligen/text_encoder weights), and the full-size SD 1.4 text encoder's inventory.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/nets/clip_text.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/tensor_compare.h"

namespace {

// fixtures README: text encoder parity within 1e-5 * max(1, max|ref|).
constexpr double kTolerance = 1e-5;

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(1); }

gligen::nets::CLIPTextConfig small_config() {
  gligen::nets::CLIPTextConfig c;
  c.vocab_size = 50;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.max_position_embeddings = 8;
  return c;
}

}  // namespace

class TestNetsClip : public QObject {
  Q_OBJECT

  gligen::io::StateDict ref_;
  gligen::nets::CLIPTextModel model_{nullptr};

 private Q_SLOTS:
  void initTestCase() {
    const auto ref_path = gligen::test::fixture("reference/text_encoder.safetensors");
    const auto dir = gligen::test::fixture("tiny-gligen/text_encoder");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    GLIGEN_REQUIRE_FIXTURE(dir + "/model.safetensors");
    torch::set_num_threads(1);  // the references were made with one intra-op thread
    ref_ = gligen::io::read_safetensors(ref_path).tensors;
    model_ = gligen::nets::load_clip_text_model(dir);
  }

  // Every key of the fixture's config.json lands in the config (the rest keep class defaults).
  void tinyConfigIsRead() {
    const auto& c = model_->config();
    const auto j = load_json(gligen::test::fixture("tiny-gligen/text_encoder/config.json"));
    QCOMPARE(c.hidden_size, j.at("hidden_size").get<int64_t>());
    QCOMPARE(c.num_hidden_layers, j.at("num_hidden_layers").get<int64_t>());
    QCOMPARE(c.num_attention_heads, j.at("num_attention_heads").get<int64_t>());
    QCOMPARE(c.intermediate_size, j.at("intermediate_size").get<int64_t>());
    QCOMPARE(c.vocab_size, j.at("vocab_size").get<int64_t>());
    QCOMPARE(c.eos_token_id, j.at("eos_token_id").get<int64_t>());
    QCOMPARE(c.hidden_act, j.at("hidden_act").get<std::string>());
  }

  // text_encoder(input_ids) for the tokenizer cases, without attention mask.
  void referenceCasesWithoutMask() {
    torch::NoGradGuard no_grad;
    const auto out = model_->forward(ref_.at("input_ids"));
    GLIGEN_COMPARE_TENSORS(out.last_hidden_state, ref_.at("last_hidden_state"), kTolerance, "last_hidden_state");
    GLIGEN_COMPARE_TENSORS(out.pooler_output, ref_.at("pooler_output"), kTolerance, "pooler_output");
  }

  // The pipeline's phrase encoding: padded to the longest phrase, with attention mask.
  void phrasesWithAttentionMask() {
    torch::NoGradGuard no_grad;
    const auto out = model_->forward(ref_.at("phrases_input_ids"), ref_.at("phrases_attention_mask"));
    GLIGEN_COMPARE_TENSORS(out.last_hidden_state, ref_.at("phrases_last_hidden_state"), kTolerance,
                           "phrases_last_hidden_state");
    GLIGEN_COMPARE_TENSORS(out.pooler_output, ref_.at("phrases_pooler_output"), kTolerance, "phrases_pooler_output");
  }

  // The same phrases padded to the tokenizer's model_max_length with the pad id and no mask pool to
  // (nearly) the same vectors: the causal mask already hides the padding from the eos position.
  // The reference padded with the tokenizer's pad id (tokenizer_cases_info.json).
  void phrasesPaddedToMaxLengthWithoutMask() {
    torch::NoGradGuard no_grad;
    const auto ids = ref_.at("phrases_input_ids");
    const auto info = load_json(gligen::test::fixture("tokenizer/tokenizer_cases_info.json"));
    const int64_t pad = info.at("pad_token_id").get<int64_t>();
    QCOMPARE(ref_.at("phrases_pooler_output_pad77_nomask").size(0), ids.size(0));
    const int64_t length = info.at("model_max_length").get<int64_t>();
    auto padded = torch::full({ids.size(0), length}, pad, torch::kLong);
    padded.narrow(1, 0, ids.size(1)).copy_(ids);
    const auto out = model_->forward(padded);
    GLIGEN_COMPARE_TENSORS(out.pooler_output, ref_.at("phrases_pooler_output_pad77_nomask"), kTolerance,
                           "phrases_pooler_output_pad77_nomask");
  }

  // The loader's dtype argument: in float64 the result stays within the float32 tolerance (the
  // fixtures' precision study puts float32 vs float64 at 1.4e-6).
  void loadsInFloat64() {
    auto model = gligen::nets::load_clip_text_model(gligen::test::fixture("tiny-gligen/text_encoder"), torch::kCPU,
                                                    torch::kFloat64);
    torch::NoGradGuard no_grad;
    const auto out = model->forward(ref_.at("phrases_input_ids"), ref_.at("phrases_attention_mask"));
    QCOMPARE(out.last_hidden_state.scalar_type(), torch::kFloat64);
    GLIGEN_COMPARE_TENSORS(out.pooler_output, ref_.at("phrases_pooler_output"), kTolerance,
                           "phrases_pooler_output (float64)");
  }

  // Building CLIPTextModel from the SD 1.4 text encoder config gives exactly the checkpoint's
  // parameter names and shapes, in state-dict order, and no buffers (transformers'
  // position_ids buffer is not kept as a module entry; the key list does not hold it either).
  void realModelInventory() {
    const auto cfg_path = gligen::test::fixture("real_models/text_encoder_config.json");
    const auto keys_path = gligen::test::fixture("real_models/real_text_encoder_keys.json");
    GLIGEN_REQUIRE_FIXTURE(cfg_path);
    GLIGEN_REQUIRE_FIXTURE(keys_path);
    const auto config = gligen::nets::load_clip_text_config(cfg_path);
    const auto cfg = load_json(cfg_path);
    QCOMPARE(config.hidden_size, cfg.at("hidden_size").get<int64_t>());
    QCOMPARE(config.num_hidden_layers, cfg.at("num_hidden_layers").get<int64_t>());
    torch::NoGradGuard no_grad;
    gligen::nets::CLIPTextModel model(config);
    std::ifstream keys_in(keys_path);
    const auto keys = nlohmann::ordered_json::parse(keys_in);  // name -> shape, in state-dict order
    std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
    for (const auto& [name, shape] : keys.items()) {
      if (name == "text_model.embeddings.position_ids") continue;
      expected.emplace_back(name, shape.get<std::vector<int64_t>>());
    }
    std::vector<std::pair<std::string, std::vector<int64_t>>> got;
    for (const auto& p : model->named_parameters()) got.emplace_back(p.key(), p.value().sizes().vec());
    QVERIFY(!expected.empty());
    QCOMPARE(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      QCOMPARE(QString::fromStdString(got[i].first), QString::fromStdString(expected[i].first));
      QVERIFY2(got[i].second == expected[i].second, expected[i].first.c_str());
    }
    QCOMPARE(model->named_buffers().size(), size_t(0));
  }

  void missingConfigKeysTakeClipTextConfigDefaults() {
    const auto c = gligen::nets::clip_text_config_from_json(nlohmann::json::object());
    QCOMPARE(c.vocab_size, int64_t(49408));
    QCOMPARE(c.hidden_size, int64_t(512));
    QCOMPARE(c.intermediate_size, int64_t(2048));
    QCOMPARE(c.num_hidden_layers, int64_t(12));
    QCOMPARE(c.num_attention_heads, int64_t(8));
    QCOMPARE(c.max_position_embeddings, int64_t(77));
    QCOMPARE(c.hidden_act, std::string("quick_gelu"));
    QCOMPARE(c.layer_norm_eps, 1e-5);
    QCOMPARE(c.eos_token_id, int64_t(49407));
    // A full CLIPModel config is read through its text_config.
    const auto full = gligen::nets::clip_text_config_from_json(
        {{"model_type", "clip"}, {"text_config", {{"hidden_size", 64}, {"num_attention_heads", 4}}}});
    QCOMPARE(full.hidden_size, int64_t(64));
  }

  void badConfigsAreRefused() {
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::nets::clip_text_config_from_json({{"hidden_act", "swiglu"}}));
    QVERIFY_THROWS_EXCEPTION(
        gligen::Error, gligen::nets::clip_text_config_from_json({{"hidden_size", 30}, {"num_attention_heads", 4}}));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::nets::clip_text_config_from_json({{"hidden_size", "big"}}));
    QVERIFY_THROWS_EXCEPTION(gligen::Error,
                             gligen::nets::load_clip_text_config("/nonexistent/text_encoder/config.json"));
  }

  // Configs with the fixed eos id pool at the first eos, not at the largest id.
  void poolsAtFirstEosWhenEosIdIsNotTwo() {
    torch::manual_seed(0);
    auto config = small_config();
    config.eos_token_id = 7;
    gligen::nets::CLIPTextModel model(config);
    model->eval();
    torch::NoGradGuard no_grad;
    const auto ids = torch::tensor({{3, 40, 7, 49, 7, 1}, {7, 2, 45, 7, 0, 0}}, torch::kLong);
    const auto out = model->forward(ids);
    QVERIFY(out.pooler_output[0].equal(out.last_hidden_state[0][2]));
    QVERIFY(out.pooler_output[1].equal(out.last_hidden_state[1][0]));
    // The legacy rule (eos_token_id 2) takes the largest id instead.
    config.eos_token_id = 2;
    gligen::nets::CLIPTextModel legacy(config);
    legacy->eval();
    const auto out2 = legacy->forward(ids);
    QVERIFY(out2.pooler_output[0].equal(out2.last_hidden_state[0][3]));
    QVERIFY(out2.pooler_output[1].equal(out2.last_hidden_state[1][2]));
  }

  // A causal model: later tokens never change earlier hidden states.
  void causalMaskHidesLaterTokens() {
    torch::manual_seed(0);
    gligen::nets::CLIPTextModel model(small_config());
    model->eval();
    torch::NoGradGuard no_grad;
    const auto a = model->forward(torch::tensor({{1, 2, 3, 4, 5}}, torch::kLong)).last_hidden_state;
    const auto b = model->forward(torch::tensor({{1, 2, 3, 9, 8}}, torch::kLong)).last_hidden_state;
    QVERIFY(torch::allclose(a.narrow(1, 0, 3), b.narrow(1, 0, 3), 0.0, 1e-6));
    QVERIFY(!torch::allclose(a.narrow(1, 3, 1), b.narrow(1, 3, 1)));
  }

  void badInputsAreErrors() {
    torch::NoGradGuard no_grad;
    const auto& c = model_->config();
    QVERIFY_THROWS_EXCEPTION(gligen::Error,
                             model_->forward(torch::zeros({1, c.max_position_embeddings + 1}, torch::kLong)));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, model_->forward(torch::full({1, 4}, c.vocab_size, torch::kLong)));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, model_->forward(torch::zeros({4}, torch::kLong)));
    QVERIFY_THROWS_EXCEPTION(gligen::Error,
                             model_->forward(torch::zeros({2, 4}, torch::kLong), torch::ones({2, 3}, torch::kLong)));
  }

  // Older checkpoints carry text_model.embeddings.position_ids: it is dropped on load. Any other
  // stray or missing key fails the strict load with a gligen::Error.
  void positionIdsInCheckpointAreIgnored() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string folder = dir.path().toStdString();
    const std::string tiny = gligen::test::fixture("tiny-gligen/text_encoder");
    write_json(folder + "/config.json", load_json(tiny + "/config.json"));
    auto weights = gligen::io::read_safetensors(tiny + "/model.safetensors").tensors;
    gligen::io::StateDict with_ids;
    for (const auto& [k, v] : weights) with_ids[k] = v.clone();
    with_ids["text_model.embeddings.position_ids"] =
        torch::arange(model_->config().max_position_embeddings, torch::kLong).unsqueeze(0);
    gligen::io::write_safetensors(folder + "/model.safetensors", with_ids);
    auto model = gligen::nets::load_clip_text_model(folder);
    torch::NoGradGuard no_grad;
    GLIGEN_COMPARE_TENSORS(model->forward(ref_.at("input_ids")).pooler_output, ref_.at("pooler_output"), kTolerance,
                           "pooler_output (checkpoint with position_ids)");

    with_ids["text_model.extra.weight"] = torch::zeros({2});
    gligen::io::write_safetensors(folder + "/model.safetensors", with_ids);
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::nets::load_clip_text_model(folder));
  }

  void missingWeightsNameTheFolder() {
    QTemporaryDir dir;
    const std::string folder = dir.path().toStdString();
    write_json(folder + "/config.json", load_json(gligen::test::fixture("tiny-gligen/text_encoder/config.json")));
    try {
      gligen::nets::load_clip_text_model(folder);
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      QVERIFY2(std::string(e.what()).find(folder) != std::string::npos, e.what());
    }
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::nets::load_clip_text_model(folder + "/nothing-here"));
  }
};

QTEST_GUILESS_MAIN(TestNetsClip)
#include "test_nets_clip.moc"
