// core/nets: BLIP-2 (Flan-T5) captioning against transformers, from the BLIP-2 fixtures
// (datagen/blip2; README there): every stage of every case (ViT, Q-Former, projection, T5
// encoder, relative position biases, each greedy step with the KV cache, a teacher-forced pass),
// the generated ids and captions, and batched crops against one at a time.
//
// Tolerance, as the fixtures README prescribes for a float32 implementation: activations and
// logits |a - b| <= 1e-4 + 1e-4 * |b| elementwise (about 10x the float32-vs-float64 error the
// fixtures measured, tolerance_summary.json); pixel values, token ids and captions exact.
#include <QtTest>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/data/grounding_dataset.h"
#include "core/io/safetensors.h"
#include "core/nets/blip2_captioner.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using namespace gligen;

namespace {

const std::string kRoot = "datagen/blip2";
constexpr double kAbsTolerance = 1e-4;
constexpr double kRelTolerance = 1e-4;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

data::CropBox case_box(const nlohmann::json& c) {
  double v[4];
  for (int i = 0; i < 4; ++i) v[i] = std::strtod(c.at("bbox_float32_hex").at(i).get<std::string>().c_str(), nullptr);
  return {v[0], v[1], v[2], v[3]};
}

std::vector<int64_t> to_ids(const torch::Tensor& t) {
  auto c = t.to(torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

}  // namespace

class TestNetsBlip2 : public QObject {
  Q_OBJECT

  nlohmann::json cases_;
  std::unique_ptr<nets::Blip2Captioner> captioner_;
  std::map<std::string, double> worst_;         // key -> max abs error over all cases
  std::map<std::string, double> worst_excess_;  // key -> max of |a-b| / (atol + rtol|b|)

  // Elementwise |got - ref| <= atol + rtol * |ref|; records the worst error per key.
  void expect_close(const torch::Tensor& got, const torch::Tensor& ref, const std::string& key) {
    QVERIFY2(got.sizes() == ref.sizes(), (key + ": shape " + std::to_string(got.dim()) + "-d mismatch").c_str());
    const auto g = got.detach().to(torch::kFloat64), r = ref.detach().to(torch::kFloat64);
    const auto err = (g - r).abs();
    const double max_abs = err.max().item<double>();
    const double ratio = (err / (kAbsTolerance + kRelTolerance * r.abs())).max().item<double>();
    worst_[key] = std::max(worst_[key], max_abs);
    worst_excess_[key] = std::max(worst_excess_[key], ratio);
    QVERIFY2(std::isfinite(max_abs) && ratio <= 1.0,
             (key + ": max abs error " + std::to_string(max_abs) + " exceeds 1e-4 + 1e-4*|ref| (ratio " +
              std::to_string(ratio) + ")")
                 .c_str());
  }

  // Stage keys "<prefix>{i}" present in the reference, in index order.
  static std::vector<std::string> indexed_keys(const io::StateDict& ref, const std::string& prefix) {
    std::vector<std::string> keys;
    for (int i = 0; ref.count(prefix + std::to_string(i)); ++i) keys.push_back(prefix + std::to_string(i));
    return keys;
  }

 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture(kRoot + "/cases.json"));
    cases_ = read_json(test::fixture(kRoot + "/cases.json"));
    const auto dir = test::fixture(kRoot + "/" + cases_.at("model_dir").get<std::string>());
    GLIGEN_REQUIRE_FIXTURE(dir + "/config.json");
    torch::set_num_threads(1);  // the references were made with one thread
    captioner_ = std::make_unique<nets::Blip2Captioner>(nets::Blip2Captioner::load(dir));
  }

  // T5's relative position buckets equal transformers' for every recorded relative position.
  void relativePositionBuckets() {
    const auto path = test::fixture(kRoot + "/t5_relative_buckets.safetensors");
    GLIGEN_REQUIRE_FIXTURE(path);
    const auto ref = io::read_safetensors(path).tensors;
    const auto rel = ref.at("t5_bucket.relative_position");
    static const std::regex name(R"(t5_bucket\.(bi|uni)directional_(\d+)_(\d+))");
    int checked = 0;
    for (const auto& [key, buckets] : ref) {
      std::smatch m;
      if (!std::regex_match(key, m, name)) continue;
      const bool bidirectional = m[1] == "bi";
      const auto got = nets::t5_relative_position_bucket(rel, bidirectional, std::stoll(m[2]), std::stoll(m[3]));
      QVERIFY2(torch::equal(got, buckets), key.c_str());
      ++checked;
    }
    QVERIFY(checked >= 2);
  }

  void stages_data() {
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < cases_.at("cases").size(); ++i) {
      QTest::newRow(cases_["cases"][i].at("name").get<std::string>().c_str()) << int(i);
    }
  }

  // Every reference tensor of one case, from the image file on.
  void stages() {
    QFETCH(int, index);
    torch::NoGradGuard no_grad;
    const auto& c = cases_.at("cases").at(index);
    const auto ref = io::read_safetensors(test::fixture(kRoot + "/" + c.at("tensors").get<std::string>())).tensors;
    auto& model = captioner_->model();
    const auto& cfg = model->config();

    // Preprocessing: exact pixel values (the processor's where recorded, else the formula on
    // the reference resize, which the generator asserted bit for bit).
    const auto image = data::read_rgb8(test::fixture(kRoot + "/" + c.at("image").get<std::string>()));
    QVERIFY(image.has_value());
    const auto pixels = captioner_->pixel_values(*image, {case_box(c)});  // [1, 3, H, W]
    torch::Tensor ref_pixels;
    if (ref.count("pixel_values")) {
      ref_pixels = ref.at("pixel_values");
    } else {
      const auto u8 = ref.at("resized_uint8").contiguous();
      data::Rgb8Image resized{
          int(u8.size(1)), int(u8.size(0)),
          std::vector<std::uint8_t>(u8.data_ptr<std::uint8_t>(), u8.data_ptr<std::uint8_t>() + u8.numel())};
      ref_pixels = nets::blip_normalize(resized, captioner_->processor_config());
    }
    QCOMPARE(pixels.sizes().vec(), ref_pixels.unsqueeze(0).sizes().vec());
    QVERIFY2(torch::equal(pixels[0], ref_pixels), "pixel_values differ");

    // Image -> queries -> T5 encoder.
    const auto e = model->encode(pixels, /*keep_stages=*/true);
    expect_close(e.vision.embeddings[0], ref.at("vision_model.embeddings"), "vision_model.embeddings");
    const auto vision_layers = indexed_keys(ref, "vision_model.encoder.layers.");
    if (!vision_layers.empty()) QCOMPARE(int64_t(vision_layers.size()), cfg.vision.num_hidden_layers);
    for (std::size_t i = 0; i < vision_layers.size(); ++i) {
      expect_close(e.vision.layer_outputs.at(i)[0], ref.at(vision_layers[i]), vision_layers[i]);
    }
    expect_close(e.vision.last_hidden_state[0], ref.at("vision_model.post_layernorm"), "vision_model.post_layernorm");
    expect_close(e.qformer.embeddings[0], ref.at("qformer.layernorm"), "qformer.layernorm");
    const auto q_layers = indexed_keys(ref, "qformer.encoder.layer.");
    QCOMPARE(int64_t(q_layers.size()), cfg.qformer.num_hidden_layers);
    for (std::size_t i = 0; i < q_layers.size(); ++i)
      expect_close(e.qformer.layer_outputs.at(i)[0], ref.at(q_layers[i]), q_layers[i]);
    expect_close(e.language_projection[0], ref.at("language_projection"), "language_projection");
    expect_close(e.inputs_embeds[0], ref.at("language_model.inputs_embeds"), "language_model.inputs_embeds");
    QCOMPARE(e.inputs_embeds.size(1), ref.at("language_model.attention_mask").size(0));
    QVERIFY(ref.at("language_model.attention_mask").eq(1).all().item<bool>());
    expect_close(e.encoder_position_bias[0], ref.at("language_model.encoder.relative_position_bias"),
                 "language_model.encoder.relative_position_bias");
    const auto enc_blocks = indexed_keys(ref, "language_model.encoder.block.");
    QCOMPARE(int64_t(enc_blocks.size()), cfg.text.num_layers);
    for (std::size_t i = 0; i < enc_blocks.size(); ++i)
      expect_close(e.encoder_blocks.at(i)[0], ref.at(enc_blocks[i]), enc_blocks[i]);
    expect_close(e.encoder_hidden[0], ref.at("language_model.encoder.final_layer_norm"),
                 "language_model.encoder.final_layer_norm");

    // Greedy generation with the KV cache: ids exact, each step's states and logits close.
    nets::Blip2GenerationTrace trace;
    const auto sequences = model->generate_from(e, &trace);
    const auto ref_sequence = to_ids(ref.at("generate.sequences"));
    QCOMPARE(to_ids(sequences[0]), ref_sequence);
    QCOMPARE(to_ids(sequences[0]), c.at("generated_ids").get<std::vector<int64_t>>());
    const int64_t steps = int64_t(ref_sequence.size()) - 1;
    QCOMPARE(int64_t(trace.logits.size()), steps);
    auto per_step = [&](auto pick) {
      std::vector<torch::Tensor> rows;
      for (int64_t s = 0; s < steps; ++s) rows.push_back(pick(s)[0]);
      return torch::stack(rows);  // [S, ...]
    };
    expect_close(per_step([&](int64_t s) { return trace.logits[s]; }), ref.at("step.logits"), "step.logits");
    const auto final_states = per_step([&](int64_t s) { return trace.decoder_final[s]; });
    expect_close(final_states, ref.at("step.language_model.decoder.final_layer_norm"),
                 "step.language_model.decoder.final_layer_norm");
    // lm_head's input: the final state, rescaled by d_model**-0.5 when the head is tied.
    const double head_scale = cfg.text.tie_word_embeddings ? std::pow(double(cfg.text.d_model), -0.5) : 1.0;
    expect_close(final_states * head_scale, ref.at("step.lm_head_input"), "step.lm_head_input");
    const auto dec_blocks = indexed_keys(ref, "step.language_model.decoder.block.");
    QCOMPARE(int64_t(dec_blocks.size()), cfg.text.num_decoder_layers);
    for (std::size_t i = 0; i < dec_blocks.size(); ++i) {
      expect_close(per_step([&](int64_t s) { return trace.decoder_blocks[s].at(i); }), ref.at(dec_blocks[i]),
                   dec_blocks[i]);
    }

    // The decoder's block-0 bias over the whole sequence, without the causal mask.
    auto dec_attention = model->language_model->decoder->block[0]->as<nets::T5Block>()->self_attention->SelfAttention;
    expect_close(dec_attention->compute_bias(0, steps, steps, torch::kCPU)[0],
                 ref.at("language_model.decoder.relative_position_bias"),
                 "language_model.decoder.relative_position_bias");

    // One pass without cache over sequences[:-1].
    const auto tf_ids = ref.at("teacher_forced.decoder_input_ids");
    QCOMPARE(to_ids(tf_ids), std::vector<int64_t>(ref_sequence.begin(), ref_sequence.end() - 1));
    std::vector<torch::Tensor> tf_blocks;
    torch::Tensor tf_final;
    const auto tf_logits = model->teacher_forced_logits(e, tf_ids.unsqueeze(0), &tf_blocks, &tf_final);
    expect_close(tf_logits[0], ref.at("teacher_forced.logits"), "teacher_forced.logits");
    expect_close(tf_final[0], ref.at("teacher_forced.language_model.decoder.final_layer_norm"),
                 "teacher_forced.language_model.decoder.final_layer_norm");
    const auto tf_keys = indexed_keys(ref, "teacher_forced.language_model.decoder.block.");
    QCOMPARE(tf_keys.size(), tf_blocks.size());
    for (std::size_t i = 0; i < tf_keys.size(); ++i) expect_close(tf_blocks[i][0], ref.at(tf_keys[i]), tf_keys[i]);

    // Stop reason and caption.
    QCOMPARE(steps, c.at("num_generated_tokens").get<int64_t>());
    if (c.at("stop_reason") == "eos")
      QCOMPARE(ref_sequence.back(), cfg.text.eos_token_id);
    else
      QCOMPARE(int64_t(ref_sequence.size()), cfg.text.max_length);
    QCOMPARE(captioner_->tokenizer().decode(to_ids(sequences[0]), true), c.at("caption").get<std::string>());
  }

  // All boxes of an image in one batch give the captions (and ids) of one box at a time; a row
  // that stops early (EOS) does not disturb the others.
  void batchedBoxesEqualOneAtATime() {
    std::map<std::string, std::vector<int>> by_image;
    for (std::size_t i = 0; i < cases_.at("cases").size(); ++i)
      by_image[cases_["cases"][i].at("image").get<std::string>()].push_back(int(i));
    int batched = 0;
    for (const auto& [image_path, indices] : by_image) {
      const auto image = data::read_rgb8(test::fixture(kRoot + "/" + image_path));
      QVERIFY(image.has_value());
      std::vector<data::CropBox> boxes;
      for (int i : indices) boxes.push_back(case_box(cases_["cases"][i]));
      const auto ids = captioner_->generate_ids(captioner_->pixel_values(*image, boxes));
      const auto captions = captioner_->caption(*image, boxes);
      QCOMPARE(captions.size(), indices.size());
      for (std::size_t k = 0; k < indices.size(); ++k) {
        const auto& c = cases_["cases"][indices[k]];
        QCOMPARE(ids[k], c.at("generated_ids").get<std::vector<int64_t>>());
        QCOMPARE(captions[k], c.at("caption").get<std::string>());
      }
      batched += indices.size() > 1;
    }
    qInfo("%d image(s) captioned with several boxes in one batch", batched);
    // Every case's crop in one batch, whatever its image.
    std::vector<torch::Tensor> rows;
    for (const auto& c : cases_.at("cases")) {
      const auto image = data::read_rgb8(test::fixture(kRoot + "/" + c.at("image").get<std::string>()));
      QVERIFY(image.has_value());
      rows.push_back(captioner_->pixel_values(*image, {case_box(c)}));
    }
    const auto all_ids = captioner_->generate_ids(torch::cat(rows));
    QCOMPARE(all_ids.size(), cases_.at("cases").size());
    for (std::size_t k = 0; k < all_ids.size(); ++k) {
      QCOMPARE(all_ids[k], cases_["cases"][k].at("generated_ids").get<std::vector<int64_t>>());
    }
    // The same with at most two crops per forward pass.
    captioner_->set_max_batch(2);
    const auto& first = by_image.begin();
    const auto image = data::read_rgb8(test::fixture(kRoot + "/" + first->first));
    std::vector<data::CropBox> boxes;
    for (int i : first->second) boxes.push_back(case_box(cases_["cases"][i]));
    const auto captions = captioner_->caption(*image, boxes);
    for (std::size_t k = 0; k < boxes.size(); ++k)
      QCOMPARE(captions[k], cases_["cases"][first->second[k]].at("caption").get<std::string>());
    captioner_->set_max_batch(0);
  }

  void emptyBoxIsAClearError() {
    data::Rgb8Image img{8, 8, std::vector<std::uint8_t>(8 * 8 * 3, 100)};
    QVERIFY_THROWS_EXCEPTION(Error, captioner_->caption(img, {data::CropBox{2.2, 2.0, 2.4, 6.0}}));
    QVERIFY(captioner_->caption(img, std::vector<data::CropBox>{}).empty());
  }

  void cleanupTestCase() {
    for (const auto& [key, err] : worst_) {
      qInfo("worst %-58s max abs %.3g  (%.3g of tolerance)", key.c_str(), err, worst_excess_[key]);
    }
  }
};

QTEST_GUILESS_MAIN(TestNetsBlip2)
#include "test_nets_blip2.moc"
