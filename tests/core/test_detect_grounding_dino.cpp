// core/detect: Grounding DINO against transformers 4.40 on ../shared/fixtures/datagen/grounding-dino
// (README there): the tiny model folder in the release format, four images of different shapes,
// every stage's reference tensors, detections, labels and NMS. Shapes, names, texts and
// tolerances all come from cases.json and the reference files, so a second fixture set with
// another tiny architecture and vocabulary runs unchanged. The real grounding-dino-base config
// and tensor inventory check the names and shapes of the full-size model.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/detect/grounding_dino.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "support/fixtures.h"

namespace {

namespace fs = std::filesystem;
using gligen::detect::GroundingDino;
using Json = nlohmann::json;

const std::string kRoot = "datagen/grounding-dino";

Json load_json(const std::string& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

// Suggested tolerance of the fixtures README: 10x the measured float32-vs-float64 error rounded up
// to one significant digit, at least 1e-6; tensors computed in float32 by both runs (measured 0):
// 1e-6 per element and 1e-6 x positions for per-channel sums; the pixel values are exact.
double round_up_1sig(double x) {
  const double e = std::pow(10.0, std::floor(std::log10(x)));
  return std::ceil(x / e - 1e-9) * e;
}

struct ToleranceTable {
  Json table;
  // Returns < 0 when the table has no entry.
  double get(const std::string& name, bool is_sum, int64_t positions) const {
    if (name == "inputs.pixel_values") return 0.0;
    const std::string key = is_sum ? name + "@sum" : name;
    if (!table.contains(key)) return -1.0;
    const double d = table[key]["max_abs_diff"].get<double>();
    if (d == 0.0) return is_sum ? 1e-6 * double(positions) : 1e-6;
    return std::max(round_up_1sig(10.0 * d), 1e-6);
  }
};

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

struct CaseRun {
  Json meta;
  gligen::data::Rgb8Image image;
  gligen::detect::DetectionRun run;
  gligen::detect::Trace trace;
  gligen::io::StateDict refs;
};

// The run's value for a reference tensor name.
torch::Tensor value_of(const CaseRun& c, const std::string& name) {
  if (name == "inputs.pixel_values") return c.run.image.pixel_values;
  if (name == "inputs.pixel_mask") return c.run.image.pixel_mask;
  if (name == "inputs.input_ids") return c.run.text.input_ids;
  if (name == "inputs.attention_mask") return c.run.text.attention_mask;
  if (name == "inputs.token_type_ids") return c.run.text.token_type_ids;
  auto it = c.trace.find(name);
  return it == c.trace.end() ? torch::Tensor() : it->second;
}

}  // namespace

class TestDetectGroundingDino : public QObject {
  Q_OBJECT

  Json cases_;
  ToleranceTable tolerances_;
  std::unique_ptr<GroundingDino> dino_;
  std::vector<CaseRun> runs_;
  std::string model_dir_;

  // Compares one stored reference entry set (full or subsampled) with the run's tensor.
  void compare_tensor(const CaseRun& c, const std::string& name, const Json& info) {
    const std::string what = c.meta["name"].get<std::string>() + " / " + name;
    auto got = value_of(c, name);
    QVERIFY2(got.defined(), (what + ": not produced").c_str());
    got = got.detach().to(torch::kCPU);
    const auto shape = info["shape"].get<std::vector<int64_t>>();
    QVERIFY2(got.sizes().vec() == shape, (what + ": shape " + shape_text(got)).c_str());
    const bool exact = info["dtype"] == "int64" || info["dtype"] == "bool";
    if (info["stored"] == "full") {
      const auto& ref = c.refs.at(name);
      if (exact) {
        QVERIFY2(torch::equal(got.to(ref.scalar_type()), ref), (what + ": differs").c_str());
        return;
      }
      const double tol = tolerances_.get(name, false, 0);
      QVERIFY2(tol >= 0, (what + ": no tolerance in cases.json").c_str());
      // Infinite entries (the -inf logits of masked or absent tokens) must match exactly.
      const auto g = got.to(torch::kDouble), r = ref.to(torch::kDouble);
      const auto finite = torch::isfinite(r);
      QVERIFY2(torch::equal(g.masked_select(finite.logical_not()), r.masked_select(finite.logical_not())),
               (what + ": non-finite entries differ").c_str());
      const double err = (g.masked_select(finite) - r.masked_select(finite)).abs().max().item<double>();
      qInfo("%s: max abs error %.3g (tolerance %.3g)", what.c_str(), err, tol);
      QVERIFY2(err <= tol, (what + ": max abs error " + std::to_string(err) + " > " + std::to_string(tol)).c_str());
      return;
    }
    // Subsampled: rows at the stored positions, and per-channel sums over every position.
    const auto idx = c.refs.at(name + "@idx");
    const auto rows_ref = c.refs.at(name + "@rows");
    const auto sum_ref = c.refs.at(name + "@sum");
    torch::Tensor rows, flat;
    int64_t positions = 0;
    if (info["axis"] == "dim 1") {  // [B, N, C]
      rows = got.index_select(1, idx);
      flat = got.to(torch::kDouble).flatten(0, 1);  // [B*N, C]
      positions = got.size(1);
    } else {  // [B, C, H, W] or [B, H, W], positions along the flattened H*W
      auto g = got.dim() == 3 ? got.unsqueeze(1) : got;
      auto hw = g.flatten(2);
      rows = hw.index_select(2, idx);
      flat = hw.to(torch::kDouble).permute({0, 2, 1}).flatten(0, 1);  // [B*H*W, C]
      positions = hw.size(2);
    }
    flat = torch::where(torch::isfinite(flat), flat, torch::zeros_like(flat));
    const auto sums = flat.sum(0);
    if (exact) {
      QVERIFY2(torch::equal(rows.to(rows_ref.scalar_type()), rows_ref), (what + "@rows: differs").c_str());
      QVERIFY2(torch::allclose(sums, sum_ref, 0, 0), (what + "@sum: differs").c_str());
      return;
    }
    const double tol = tolerances_.get(name, false, positions);
    const double tol_sum = tolerances_.get(name, true, positions);
    QVERIFY2(tol >= 0 && tol_sum >= 0, (what + ": no tolerance in cases.json").c_str());
    const auto g = rows.to(torch::kDouble), r = rows_ref.to(torch::kDouble);
    const auto finite = torch::isfinite(r);
    QVERIFY2(torch::equal(g.masked_select(finite.logical_not()), r.masked_select(finite.logical_not())),
             (what + "@rows: non-finite entries differ").c_str());
    const double err = (g.masked_select(finite) - r.masked_select(finite)).abs().max().item<double>();
    const double err_sum = (sums - sum_ref).abs().max().item<double>();
    qInfo("%s: rows %.3g (tol %.3g), sums %.3g (tol %.3g)", what.c_str(), err, tol, err_sum, tol_sum);
    QVERIFY2(err <= tol, (what + "@rows: max abs error " + std::to_string(err) + " > " + std::to_string(tol)).c_str());
    QVERIFY2(err_sum <= tol_sum,
             (what + "@sum: max abs error " + std::to_string(err_sum) + " > " + std::to_string(tol_sum)).c_str());
  }

 private Q_SLOTS:
  void initTestCase() {
    model_dir_ = gligen::test::fixture(kRoot + "/model");
    GLIGEN_REQUIRE_FIXTURE(model_dir_ + "/config.json");
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture(kRoot + "/cases.json"));
    torch::set_num_threads(1);  // the references were made with one intra-op thread
    cases_ = load_json(gligen::test::fixture(kRoot + "/cases.json"));
    tolerances_.table = cases_["tolerance_fp32_vs_fp64"];
    dino_ = std::make_unique<GroundingDino>(GroundingDino::load(model_dir_));
    gligen::detect::DetectOptions options;
    options.box_threshold = cases_["thresholds"]["box_threshold"];
    options.text_threshold = cases_["thresholds"]["text_threshold"];
    options.nms_iou = cases_["thresholds"]["nms_iou"];
    for (const auto& meta : cases_["cases"]) {
      CaseRun c;
      c.meta = meta;
      const auto image_path = gligen::test::fixture(kRoot + "/" + meta["image"].get<std::string>());
      const auto refs_path = gligen::test::fixture(kRoot + "/" + meta["refs"].get<std::string>());
      GLIGEN_REQUIRE_FIXTURE(image_path);
      GLIGEN_REQUIRE_FIXTURE(refs_path);
      c.image = gligen::detect::load_image_rgb(image_path);
      c.refs = gligen::io::read_safetensors(refs_path).tensors;
      c.run = dino_->run(c.image, meta["text"].get<std::string>(), options, &c.trace);
      runs_.push_back(std::move(c));
    }
    QVERIFY(!runs_.empty());
  }

  // config.json: the values it lists, and the class defaults for what it leaves out.
  void configIsRead() {
    const auto j = load_json(model_dir_ + "/config.json");
    const auto& c = dino_->config();
    QCOMPARE(c.d_model, j["d_model"].get<int64_t>());
    QCOMPARE(c.num_queries, j["num_queries"].get<int64_t>());
    QCOMPARE(c.encoder_layers, j["encoder_layers"].get<int64_t>());
    QCOMPARE(c.decoder_layers, j["decoder_layers"].get<int64_t>());
    QCOMPARE(c.encoder_ffn_dim, j["encoder_ffn_dim"].get<int64_t>());
    QCOMPARE(c.max_text_len, j["max_text_len"].get<int64_t>());
    QCOMPARE(c.positional_embedding_temperature, j["positional_embedding_temperature"].get<double>());
    const auto& b = j["backbone_config"];
    QCOMPARE(c.backbone.embed_dim, b["embed_dim"].get<int64_t>());
    QCOMPARE(c.backbone.depths, b["depths"].get<std::vector<int64_t>>());
    QCOMPARE(c.backbone.num_heads, b["num_heads"].get<std::vector<int64_t>>());
    QCOMPARE(c.backbone.window_size, b["window_size"].get<int64_t>());
    QCOMPARE(c.backbone.out_features, b["out_features"].get<std::vector<std::string>>());
    // SwinConfig defaults for keys save_pretrained leaves out.
    if (!b.contains("patch_size")) QCOMPARE(c.backbone.patch_height, int64_t(4));
    if (!b.contains("mlp_ratio")) QCOMPARE(c.backbone.mlp_ratio, 4.0);
    if (!b.contains("qkv_bias")) QVERIFY(c.backbone.qkv_bias);
    if (!b.contains("hidden_act")) QCOMPARE(c.backbone.hidden_act, std::string("gelu"));
    const auto& t = j["text_config"];
    auto text_int = [&](const char* key, int64_t def) { return t.contains(key) ? t[key].get<int64_t>() : def; };
    QCOMPARE(c.text.hidden_size, text_int("hidden_size", 768));
    QCOMPARE(c.text.num_hidden_layers, text_int("num_hidden_layers", 12));
    QCOMPARE(c.text.vocab_size, text_int("vocab_size", 30522));
    QCOMPARE(c.text.max_position_embeddings, text_int("max_position_embeddings", 512));
    QCOMPARE(c.text.type_vocab_size, text_int("type_vocab_size", 2));
    if (!t.contains("layer_norm_eps")) QCOMPARE(c.text.layer_norm_eps, 1e-12);
    if (!t.contains("hidden_act")) QCOMPARE(c.text.hidden_act, std::string("gelu"));
  }

  // The real grounding-dino-base: the config as released and every tensor name / dtype / shape of
  // its model.safetensors, plus the tied names save_pretrained leaves out.
  void realCheckpointInventory() {
    const auto config_path = gligen::test::fixture(kRoot + "/real_grounding_dino_base_config.json");
    const auto tsv_path = gligen::test::fixture(kRoot + "/real_grounding_dino_base_tensors.tsv");
    GLIGEN_REQUIRE_FIXTURE(config_path);
    GLIGEN_REQUIRE_FIXTURE(tsv_path);
    const auto config = gligen::detect::load_grounding_dino_config(config_path);
    QCOMPARE(config.text.hidden_size, int64_t(768));  // {"model_type": "bert"}: all BertConfig defaults
    QCOMPARE(config.text.num_hidden_layers, int64_t(12));
    QCOMPARE(config.text.vocab_size, int64_t(30522));
    QCOMPARE(config.backbone.embed_dim, int64_t(128));
    std::map<std::string, std::pair<std::string, std::string>> expected;  // name -> (dtype, shape)
    std::set<std::string> tied_expected;
    std::ifstream in(tsv_path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# tied\t", 0) == 0) {
        tied_expected.insert(line.substr(7));
        continue;
      }
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string name, dtype, shape;
      std::getline(ls, name, '\t');
      std::getline(ls, dtype, '\t');
      std::getline(ls, shape, '\t');
      expected[name] = {dtype, shape};
    }
    QCOMPARE(int(expected.size()), cases_["real_checkpoint"]["n_tensors_saved"].get<int>());
    torch::NoGradGuard no_grad;
    gligen::detect::GroundingDinoForObjectDetection model(config);
    const auto sd = gligen::detect::grounding_dino_state_dict(model);
    int64_t floats = 0;
    std::vector<std::string> problems;
    for (const auto& [name, t] : sd) {
      auto it = expected.find(name);
      if (it == expected.end()) {
        problems.push_back("unexpected " + name);
        continue;
      }
      std::string shape = "[";
      for (int64_t d = 0; d < t.dim(); ++d) shape += (d ? ", " : "") + std::to_string(t.size(d));
      shape += "]";
      const std::string dtype = t.scalar_type() == torch::kLong ? "I64" : "F32";
      if (it->second != std::make_pair(dtype, shape)) problems.push_back(name + " " + dtype + " " + shape);
      if (t.is_floating_point()) floats += t.numel();
    }
    for (const auto& [name, info] : expected) {
      if (!sd.count(name)) problems.push_back("missing " + name);
    }
    std::string all;
    for (const auto& p : problems) all += "\n  " + p;
    QVERIFY2(problems.empty(), all.c_str());
    QCOMPARE(floats, cases_["real_checkpoint"]["n_float_elements_saved"].get<int64_t>());
    std::set<std::string> tied;
    for (const auto& [alias, stored] : gligen::detect::grounding_dino_tied_keys(config)) tied.insert(alias);
    QCOMPARE(tied, tied_expected);
  }

  void preprocessingIsBitExact() {
    for (const auto& c : runs_) {
      const auto name = c.meta["name"].get<std::string>();
      const auto hw = c.meta["pixel_values_hw"].get<std::vector<int>>();
      const auto& processor = dino_->image_processor();
      const auto size = gligen::detect::grounding_dino_resize_size(c.image.height, c.image.width,
                                                                   processor.shortest_edge, processor.longest_edge);
      QCOMPARE(size.first, hw[0]);
      QCOMPARE(size.second, hw[1]);
      const auto ref = gligen::detect::load_image_rgb(
          gligen::test::fixture(kRoot + "/" + c.meta["resized_image"].get<std::string>()));
      QCOMPARE(c.run.image.resized.width, ref.width);
      QCOMPARE(c.run.image.resized.height, ref.height);
      QVERIFY2(c.run.image.resized.pixels == ref.pixels, (name + ": resized image differs").c_str());
    }
    // get_size_with_aspect_ratio corner cases (README): half-to-even, long side beyond 1333, kept size.
    QCOMPARE(gligen::detect::grounding_dino_resize_size(900, 1800, 800, 1333), std::make_pair(666, 1332));
    QCOMPARE(gligen::detect::grounding_dino_resize_size(60, 1200, 800, 1333), std::make_pair(67, 1340));
    QCOMPARE(gligen::detect::grounding_dino_resize_size(800, 1000, 800, 1333), std::make_pair(800, 1000));
    QCOMPARE(gligen::detect::grounding_dino_resize_size(500, 375, 800, 1333), std::make_pair(1066, 800));
  }

  void textMasksOfProbes() {
    for (const auto& p : cases_["tokenizer_probes"]) {
      const auto ids = p["input_ids"].get<std::vector<int64_t>>();
      auto [mask, pos] = gligen::detect::grounding_dino_text_masks(torch::tensor(ids, torch::kLong).unsqueeze(0));
      QCOMPARE(std::vector<int64_t>(pos.data_ptr<int64_t>(), pos.data_ptr<int64_t>() + pos.numel()),
               p["text_position_ids"].get<std::vector<int64_t>>());
      const auto rows = p["text_self_attention_mask_rows"].get<std::vector<std::string>>();
      const auto row_mask = mask[0];
      auto m = row_mask.accessor<bool, 2>();
      for (size_t r = 0; r < rows.size(); ++r) {
        for (size_t col = 0; col < rows[r].size(); ++col) QCOMPARE(m[r][col], rows[r][col] == '1');
      }
    }
  }

  // Every reference tensor of every case: inputs, text masks, each stage of the network, heads.
  void stagesMatchReference() {
    for (const auto& c : runs_) {
      for (const auto& [name, info] : c.meta["tensors"].items()) {
        if (name.rfind("post.", 0) == 0 || name.rfind("nms.", 0) == 0) continue;
        compare_tensor(c, name, info);
        if (QTest::currentTestFailed()) return;
      }
    }
  }

  void postProcessingAndNms() {
    for (const auto& c : runs_) {
      const auto name = c.meta["name"].get<std::string>();
      const auto& post = c.run.post;
      const auto& ref_dets = c.meta["detections"];
      QCOMPARE(int(post.detections.size()), int(ref_dets.size()));
      QCOMPARE(int(post.detections.size()), c.meta["num_detections_above_box_threshold"].get<int>());
      QVERIFY(torch::equal(post.keep_queries, c.refs.at("post.keep_queries")));
      QVERIFY(torch::equal(post.label_token_mask, c.refs.at("post.label_token_mask")));
      const double box_tol = tolerances_.get("post.boxes", false, 0);
      const double score_tol = tolerances_.get("logits", false, 0);  // sigmoid's slope is at most 1/4
      auto max_err = [](const torch::Tensor& a, const torch::Tensor& b) {
        return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
      };
      QVERIFY(max_err(post.boxes, c.refs.at("post.boxes")) <= box_tol);
      QVERIFY(max_err(post.scores, c.refs.at("post.scores")) <= score_tol);
      const auto scores_all = std::get<0>(torch::sigmoid(c.run.outputs.logits[0]).max(-1));
      QVERIFY(max_err(scores_all, c.refs.at("post.scores_all")) <= score_tol);
      for (size_t i = 0; i < post.detections.size(); ++i) {
        const auto& d = post.detections[i];
        const auto& r = ref_dets[i];
        QCOMPARE(d.query, r["query"].get<int64_t>());
        QCOMPARE(d.label, r["label"].get<std::string>());
        QCOMPARE(d.label_token_ids, r["label_token_ids"].get<std::vector<int64_t>>());
        QVERIFY(std::abs(d.score - r["score"].get<double>()) <= score_tol);
        for (int k = 0; k < 4; ++k) QVERIFY(std::abs(d.box[k] - r["box_xyxy"][k].get<double>()) <= box_tol);
      }
      // torchvision.ops.nms, then the boxes handed to the captioner (PIL crop boxes).
      const auto keep_ref = c.refs.at("nms.keep");
      QCOMPARE(c.run.nms_keep,
               std::vector<int64_t>(keep_ref.data_ptr<int64_t>(), keep_ref.data_ptr<int64_t>() + keep_ref.numel()));
      QCOMPARE(c.run.nms_keep, c.meta["nms_keep"].get<std::vector<int64_t>>());
      const auto& after = c.meta["after_nms"];
      QCOMPARE(int(c.run.detections.size()), int(after.size()));
      for (size_t i = 0; i < after.size(); ++i) {
        const auto& d = c.run.detections[i];
        QCOMPARE(d.label, after[i]["label"].get<std::string>());
        const auto crop_ref = after[i]["pil_crop_box"].get<std::array<int, 4>>();
        QVERIFY(gligen::detect::pil_crop_box(d.box) == crop_ref);
        for (int k = 0; k < 4; ++k) {
          QVERIFY(std::abs(d.box[k] - c.refs.at("nms.boxes")[int64_t(i)][k].item<double>()) <= box_tol);
        }
      }
      qInfo("%s: %d above the box threshold, %d after NMS", name.c_str(), int(post.detections.size()),
            int(c.run.detections.size()));
    }
  }

  void detectGivesTheNmsResult() {
    const auto& c = runs_.front();
    gligen::detect::DetectOptions o;
    o.box_threshold = cases_["thresholds"]["box_threshold"];
    o.text_threshold = cases_["thresholds"]["text_threshold"];
    const auto dets = dino_->detect(c.image, c.meta["text"].get<std::string>(), o);
    QCOMPARE(dets.size(), c.run.detections.size());
    for (size_t i = 1; i < dets.size(); ++i) QVERIFY(dets[i - 1].score >= dets[i].score);
    o.nms_iou = -1;  // no NMS: every box above the threshold, in query order
    QCOMPARE(dino_->detect(c.image, c.meta["text"].get<std::string>(), o).size(), c.run.post.detections.size());
  }

  void tooLongTextIsAClearError() {
    std::string text;
    for (int i = 0; i < 130; ++i) text += (i ? ". " : "") + std::string("cat");
    try {
      dino_->detect(runs_.front().image, text);
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      QVERIFY2(std::string(e.what()).find("max_text_len") != std::string::npos, e.what());
    }
  }

  // Strict loading: a missing or unexpected tensor is named; the tied copies a .bin carries are
  // accepted, and can stand in for bbox_embed.0.
  void weightLoadingIsStrict() {
    const auto weights = gligen::io::read_safetensors(model_dir_ + "/model.safetensors").tensors;
    auto try_load = [&](const gligen::io::StateDict& w) -> std::string {
      gligen::detect::GroundingDinoForObjectDetection model(dino_->config());
      try {
        gligen::detect::load_grounding_dino_weights(model, w, "the test model");
      } catch (const gligen::Error& e) {
        return e.what();
      }
      return "";
    };
    QCOMPARE(try_load(weights), std::string());
    auto missing = weights;
    missing.erase("model.enc_output.weight");
    QVERIFY(try_load(missing).find("model.enc_output.weight") != std::string::npos);
    auto no_head = weights;
    no_head.erase("bbox_embed.0.layers.2.bias");
    QVERIFY(try_load(no_head).find("bbox_embed.0.layers.2.bias") != std::string::npos);
    auto extra = weights;
    extra["model.surplus"] = torch::zeros({2});
    QVERIFY(try_load(extra).find("model.surplus") != std::string::npos);
    auto with_tied = weights;
    for (const auto& [alias, stored] : gligen::detect::grounding_dino_tied_keys(dino_->config())) {
      with_tied[alias] = weights.at(stored);
    }
    QCOMPARE(try_load(with_tied), std::string());
    auto only_tied = with_tied;
    for (auto it = only_tied.begin(); it != only_tied.end();) {
      it = it->first.rfind("bbox_embed.0.", 0) == 0 ? only_tied.erase(it) : std::next(it);
    }
    QCOMPARE(try_load(only_tied), std::string());
    auto bad_tied = weights;
    bad_tied["model.decoder.bbox_embed.0.layers.0.bias"] = torch::zeros({3});
    QVERIFY(try_load(bad_tied).find("model.decoder.bbox_embed.0.layers.0.bias") != std::string::npos);
  }

  void unsupportedConfigsAreRefused() {
    auto j = load_json(model_dir_ + "/config.json");
    auto refused = [&](Json cfg, const std::string& key) {
      try {
        gligen::detect::grounding_dino_config_from_json(cfg, "config.json");
      } catch (const gligen::Error& e) {
        return std::string(e.what()).find(key) != std::string::npos;
      }
      return false;
    };
    auto a = j;
    a["backbone_config"]["model_type"] = "resnet";
    QVERIFY(refused(a, "model_type"));
    auto b = j;
    b["text_config"]["model_type"] = "roberta";
    QVERIFY(refused(b, "model_type"));
    auto c = j;
    c["two_stage"] = false;
    QVERIFY(refused(c, "two_stage"));
    auto d = j;
    d["d_model"] = "wide";
    QVERIFY(refused(d, "d_model"));
    auto e = j;
    e["model_type"] = "owlvit";
    QVERIFY(refused(e, "model_type"));
    try {
      GroundingDino::load(model_dir_, torch::kCPU, torch::kFloat16);
      QFAIL("expected an error");
    } catch (const gligen::Error&) {}
  }
};

QTEST_GUILESS_MAIN(TestDetectGroundingDino)
#include "test_detect_grounding_dino.moc"
