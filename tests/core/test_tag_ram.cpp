// core/tag: RAM (recognize-anything) against the reference on ../shared/fixtures/datagen/ram
// (README there): a tiny random-weight model in the release format, five images (RGB, RGBA,
// grayscale; up- and downscaled, and one already at the input size), every stage's reference
// tensors, the tag strings and the seed's detector text. Every size, count, name and file comes
// from cases.json and the fixture's own configs, so another fixture set runs unchanged. The
// real configs, tag lists and parameter inventory under real/ check the built-in configuration
// and the full-size model's names and shapes.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/grounding_dataset.h"
#include "core/io/safetensors.h"
#include "core/io/torch_pickle.h"
#include "core/io/torch_save.h"
#include "core/tag/ram_preset.h"
#include "core/tag/ram_tagger.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/test_main.h"

namespace {

namespace fs = std::filesystem;
using gligen::tag::RamTagger;
using Json = nlohmann::json;

const std::string kRoot = "datagen/ram";

Json load_json(const std::string& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

std::string fixture_file(const std::string& relative) { return gligen::test::fixture(kRoot + "/" + relative); }

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The README's checks: activations |a - b| <= 1e-4 + 1e-4 |b|; logits and probs 1e-4 absolute.
constexpr double kAbs = 1e-4;
constexpr double kRel = 1e-4;

struct CaseRun {
  Json meta;
  gligen::data::Rgb8Image image;
  gligen::tag::RamRun run;
  std::map<std::string, torch::Tensor> trace;
  gligen::io::StateDict refs;
};

// Writes `sd` as {"model": sd} plus any `extra` top-level entries, as torch.save would.
void write_checkpoint(const std::string& path, const gligen::io::StateDict& sd,
                      const std::vector<std::pair<std::string, gligen::io::PyValuePtr>>& extra = {}) {
  std::vector<std::pair<std::string, gligen::io::PyValuePtr>> entries;
  for (const auto& [k, v] : sd) entries.emplace_back(k, gligen::io::py_tensor(v.contiguous()));
  std::vector<std::pair<std::string, gligen::io::PyValuePtr>> top{{"model", gligen::io::py_dict(entries)}};
  for (const auto& e : extra) top.push_back(e);
  gligen::io::write_torch_file(path, *gligen::io::py_dict(top));
}

}  // namespace

class TestTagRam : public QObject {
  Q_OBJECT

  Json cases_;
  std::unique_ptr<RamTagger> ram_;
  std::vector<CaseRun> runs_;
  std::string checkpoint_, config_dir_, tag_list_dir_;

  gligen::tag::RamLoadOptions options() const {
    gligen::tag::RamLoadOptions o;
    o.path = checkpoint_;
    o.config_dir = config_dir_;
    o.tag_list_dir = tag_list_dir_;
    return o;
  }

  // Loading `sd` (written as a checkpoint) must fail with a message containing every `needle`.
  void expect_refused(const gligen::io::StateDict& sd, const std::vector<std::string>& needles) {
    QTemporaryDir tmp;
    const std::string path = tmp.path().toStdString() + "/bad.pth";
    write_checkpoint(path, sd);
    auto o = options();
    o.path = path;
    try {
      RamTagger::load(o);
      QFAIL("a checkpoint that does not fit was accepted");
    } catch (const gligen::Error& e) {
      const std::string msg = e.what();
      for (const auto& n : needles) QVERIFY2(msg.find(n) != std::string::npos, (msg + "\n  lacks: " + n).c_str());
    }
  }

 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(fixture_file("cases.json"));
    torch::set_num_threads(1);  // the references were made with one intra-op thread
    cases_ = load_json(fixture_file("cases.json"));
    checkpoint_ = fixture_file(cases_["files"]["checkpoint"].get<std::string>());
    GLIGEN_REQUIRE_FIXTURE(checkpoint_);
    for (const auto& f : cases_["files"]["repo_files"]) {
      const fs::path p(fixture_file(f.get<std::string>()));
      GLIGEN_REQUIRE_FIXTURE(p.string());
      if (p.filename() == "q2l_config.json") config_dir_ = p.parent_path().string();
      const auto name = p.filename().string();
      if (name.size() >= 12 && name.compare(name.size() - 12, 12, "tag_list.txt") == 0) {
        tag_list_dir_ = p.parent_path().string();
      }
    }
    QVERIFY(!config_dir_.empty() && !tag_list_dir_.empty());
    ram_ = std::make_unique<RamTagger>(RamTagger::load(options()));
    for (const auto& meta : cases_["cases"]) {
      if (meta.contains("delete_tag_index")) continue;  // deleteTagIndex
      CaseRun c;
      c.meta = meta;
      const auto image_path = fixture_file(meta["image"].get<std::string>());
      const auto refs_path = fixture_file(meta["tensors"].get<std::string>());
      GLIGEN_REQUIRE_FIXTURE(image_path);
      GLIGEN_REQUIRE_FIXTURE(refs_path);
      auto image = gligen::data::read_rgb8(image_path);
      QVERIFY2(image.has_value(), image_path.c_str());
      c.image = *image;
      QCOMPARE(c.image.width, meta["size_wh"][0].get<int>());
      QCOMPARE(c.image.height, meta["size_wh"][1].get<int>());
      c.refs = gligen::io::read_safetensors(refs_path).tensors;
      auto& trace = c.trace;
      c.run =
          ram_->run({c.image}, [&](const std::string& n, const torch::Tensor& t) { trace[n] = t.detach().clone(); });
      runs_.push_back(std::move(c));
    }
    QVERIFY(!runs_.empty());
  }

  // The tiny configs of cases.json are what the model was built with.
  void configIsRead() {
    const auto& t = cases_["tiny_config"];
    // The Swin config's entry is named after its file (config_swinL_<res>.json).
    Json swin;
    for (const auto& [name, value] : t.items()) {
      if (name.rfind("config_swin", 0) == 0) swin = value;
    }
    QVERIFY2(swin.is_object(), "cases.json tiny_config has no config_swin*.json entry");
    const auto& c = ram_->config();
    QCOMPARE(c.swin.vision_width, swin["vision_width"].get<int64_t>());
    QCOMPARE(c.swin.image_res, swin["image_res"].get<int64_t>());
    QCOMPARE(c.swin.window_size, swin["window_size"].get<int64_t>());
    QCOMPARE(c.swin.embed_dim, swin["embed_dim"].get<int64_t>());
    QCOMPARE(c.swin.depths, swin["depths"].get<std::vector<int64_t>>());
    QCOMPARE(c.swin.num_heads, swin["num_heads"].get<std::vector<int64_t>>());
    const auto& q2l = t["q2l_config.json"];
    QCOMPARE(c.q2l.hidden_size, q2l["hidden_size"].get<int64_t>());
    QCOMPARE(c.q2l.num_attention_heads, q2l["num_attention_heads"].get<int64_t>());
    QCOMPARE(c.q2l.num_hidden_layers, q2l["num_hidden_layers"].get<int64_t>());
    QCOMPARE(c.q2l.intermediate_size, q2l["intermediate_size"].get<int64_t>());
    QCOMPARE(c.q2l.layer_norm_eps, q2l["layer_norm_eps"].get<double>());
    const auto& med = t["med_config.json"];
    QCOMPARE(c.med.hidden_size, med["hidden_size"].get<int64_t>());
    QCOMPARE(c.med.num_hidden_layers, med["num_hidden_layers"].get<int64_t>());
    QCOMPARE(c.med.vocab_size, med["vocab_size"].get<int64_t>());
    const auto& k = t["code_constants"];
    QCOMPARE(c.swin.patch_size, k["patch_size"].get<int64_t>());
    QCOMPARE(c.swin.mlp_ratio, k["mlp_ratio"].get<double>());
    QCOMPARE(gligen::tag::RamConfig::kEmbedDim, k["image_proj_out"].get<int64_t>());
    QCOMPARE(gligen::tag::RamConfig::kEmbedDim, k["label_embed_dim"].get<int64_t>());
    QCOMPARE(ram_->num_classes(), cases_["tags"]["num_class"].get<int64_t>());
  }

  // Tag lists: lines as splitlines() gives them (Chinese trailing spaces kept), float32 thresholds.
  void tagListsAreRead() {
    const auto& tags = cases_["tags"];
    const auto& l = ram_->tag_lists();
    QCOMPARE(l.english, tags["en"].get<std::vector<std::string>>());
    QCOMPARE(l.chinese, tags["zh"].get<std::vector<std::string>>());
    const auto th = tags["class_threshold_float32"].get<std::vector<double>>();
    QCOMPARE(l.thresholds.size(), th.size());
    for (size_t i = 0; i < th.size(); ++i) QCOMPARE(double(l.thresholds[i]), th[i]);
    bool trailing_space = false;
    for (const auto& z : l.chinese) trailing_space |= !z.empty() && z.back() == ' ';
    QVERIFY(trailing_space);
  }

  void splitLinesIsPythons() {
    using gligen::tag::split_lines_like_python;
    QCOMPARE(split_lines_like_python("a\nb"), (std::vector<std::string>{"a", "b"}));
    QCOMPARE(split_lines_like_python("a \nb \n"), (std::vector<std::string>{"a ", "b "}));
    QCOMPARE(split_lines_like_python("a\r\n\nb\rc"), (std::vector<std::string>{"a", "", "b", "c"}));
    QCOMPARE(split_lines_like_python("a\xe2\x80\xa8"
                                     "b"),
             (std::vector<std::string>{"a", "b"}));
    QCOMPARE(split_lines_like_python(""), std::vector<std::string>{});
  }

  // Resized pixels exact (Pillow's fixed-point filter, no resize at the input size); the
  // normalised rows the fixture stores.
  void preprocessingIsExact() {
    for (const auto& c : runs_) {
      const std::string name = c.meta["name"];
      const auto& ref = c.refs.at("input.resized_uint8_hwc");
      const auto& r = c.run.resized.at(0);
      auto got = torch::from_blob(const_cast<std::uint8_t*>(r.pixels.data()), {r.height, r.width, 3}, torch::kUInt8);
      QVERIFY2(got.sizes() == ref.sizes(), (name + ": resized " + shape_text(got)).c_str());
      const auto diff = (got.to(torch::kInt) - ref.to(torch::kInt)).abs().max().item<int>();
      qInfo("%s: resized pixels max diff %d", name.c_str(), diff);
      QVERIFY2(diff == 0, (name + ": resized pixels differ by up to " + std::to_string(diff)).c_str());
      auto rows = c.refs.find("input.pixel_values_rows0to7");
      if (rows != c.refs.end()) {
        const int64_t n = rows->second.size(2);
        auto mine = c.run.pixel_values.slice(2, 0, n);
        QVERIFY2(mine.sizes() == rows->second.sizes(), (name + ": pixel rows " + shape_text(mine)).c_str());
        const double err = (mine.to(torch::kDouble) - rows->second.to(torch::kDouble)).abs().max().item<double>();
        qInfo("%s: pixel_values rows max diff %.3g", name.c_str(), err);
        QVERIFY2(torch::equal(mine, rows->second), (name + ": normalised pixels differ").c_str());
      }
    }
  }

  // Every stored tensor of every case, at the README's tolerances.
  void activationsMatch() {
    int compared = 0;
    double worst = 0.0;
    for (const auto& c : runs_) {
      const std::string cname = c.meta["name"];
      for (const auto& [key, ref] : c.refs) {
        if (key.rfind("input.", 0) == 0 || key == "targets_before_delete") continue;
        torch::Tensor got;
        if (key == "probs") {
          got = c.run.probs;
        } else {
          auto it = c.trace.find(key);
          QVERIFY2(it != c.trace.end(), (cname + " / " + key + ": not produced").c_str());
          got = it->second;
        }
        got = got.to(torch::kCPU, torch::kDouble);
        const auto r = ref.to(torch::kDouble);
        QVERIFY2(got.sizes() == r.sizes(),
                 (cname + " / " + key + ": shape " + shape_text(got) + " vs " + shape_text(r)).c_str());
        const auto err = (got - r).abs();
        const bool absolute_only = key == "logits" || key == "probs";
        const auto allowed = absolute_only ? torch::full_like(r, kAbs) : kAbs + kRel * r.abs();
        const double max_err = err.max().item<double>();
        const double excess = (err - allowed).max().item<double>();
        worst = std::max(worst, max_err);
        qInfo("%s / %s: max abs error %.3g", cname.c_str(), key.c_str(), max_err);
        QVERIFY2(excess <= 0,
                 (cname + " / " + key + ": max abs error " + std::to_string(max_err) + " exceeds 1e-4 (+1e-4 |ref|)")
                     .c_str());
        ++compared;
      }
    }
    qInfo("%d tensors compared, worst max abs error %.3g", compared, worst);
    QVERIFY(compared > 0);
  }

  // Tags, strings, probabilities and the strict-threshold decisions of every case.
  void tagsMatch() {
    const auto th = cases_["tags"]["class_threshold_float32"].get<std::vector<float>>();
    for (const auto& c : runs_) {
      const std::string name = c.meta["name"];
      const auto& t = c.run.tags.at(0);
      QCOMPARE(t.fired, c.meta["fired_indices"].get<std::vector<int64_t>>());
      QCOMPARE(t.english, c.meta["fired_tags"].get<std::vector<std::string>>());
      QCOMPARE(t.english_text, c.meta["tags_en"].get<std::string>());
      QCOMPARE(t.chinese_text, c.meta["tags_zh"].get<std::string>());
      QCOMPARE(t.detector_text, c.meta["seed_text"].get<std::string>());
      QCOMPARE(int64_t(t.fired.size()), c.meta["num_fired"].get<int64_t>());
      const auto targets = c.refs.at("targets_before_delete").to(torch::kFloat32);
      const auto mine = (c.run.probs > torch::tensor(th).view({1, -1})).to(torch::kFloat32);
      QVERIFY2(torch::equal(mine, targets), (name + ": threshold decisions differ").c_str());
      const auto probs = c.refs.at("probs");
      QCOMPARE(t.probabilities.size(), t.fired.size());
      for (size_t i = 0; i < t.fired.size(); ++i) {
        QVERIFY(std::abs(t.probabilities[i] - probs[0][t.fired[i]].item<float>()) <= kAbs);
        QVERIFY(t.probabilities[i] > th[static_cast<size_t>(t.fired[i])]);
      }
    }
  }

  // RAM's delete_tag_index: the cases that set it, on the same checkpoint.
  void deleteTagIndex() {
    int checked = 0;
    for (const auto& meta : cases_["cases"]) {
      if (!meta.contains("delete_tag_index")) continue;
      auto image = gligen::data::read_rgb8(fixture_file(meta["image"].get<std::string>()));
      QVERIFY(image.has_value());
      auto o = options();
      o.delete_tag_index = meta["delete_tag_index"].get<std::vector<int64_t>>();
      const auto tagger = RamTagger::load(o);
      const auto t = tagger.tag(*image);
      QCOMPARE(t.fired, meta["fired_indices"].get<std::vector<int64_t>>());
      QCOMPARE(t.english_text, meta["tags_en"].get<std::string>());
      QCOMPARE(t.detector_text, meta["seed_text"].get<std::string>());
      if (meta.contains("tags_zh")) QCOMPARE(t.chinese_text, meta["tags_zh"].get<std::string>());
      for (auto d : o.delete_tag_index) QVERIFY(std::find(t.fired.begin(), t.fired.end(), d) == t.fired.end());
      ++checked;
    }
    QVERIFY(checked > 0);
  }

  // One batch of every image gives the tags each image gets alone.
  void batchedEqualsSingle() {
    std::vector<gligen::data::Rgb8Image> images;
    for (const auto& c : runs_) images.push_back(c.image);
    const auto batch = ram_->run(images);
    QCOMPARE(batch.tags.size(), runs_.size());
    for (size_t i = 0; i < runs_.size(); ++i) {
      QCOMPARE(batch.tags[i].fired, runs_[i].run.tags[0].fired);
      QCOMPARE(batch.tags[i].english_text, runs_[i].run.tags[0].english_text);
      QCOMPARE(batch.tags[i].chinese_text, runs_[i].run.tags[0].chinese_text);
      const double err = (batch.logits[static_cast<int64_t>(i)] - runs_[i].run.logits[0]).abs().max().item<double>();
      QVERIFY2(err <= kAbs, std::to_string(err).c_str());
    }
  }

  // The public one-call API on a folder holding the checkpoint, configs/ and the tag lists.
  void loadsFromAFolder() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    fs::create_symlink(checkpoint_, dir / fs::path(checkpoint_).filename());
    fs::create_directory_symlink(config_dir_, dir / "configs");
    for (const auto& e : fs::directory_iterator(tag_list_dir_)) fs::create_symlink(e.path(), dir / e.path().filename());
    const auto tagger = RamTagger::load(dir.string());
    QCOMPARE(tagger.num_classes(), ram_->num_classes());
    const auto& c = runs_.front();
    const auto t = tagger.tag(c.image);
    QCOMPARE(t.english_text, c.meta["tags_en"].get<std::string>());
    QCOMPARE(t.detector_text, c.meta["seed_text"].get<std::string>());
  }

  // The reference loader's rules, strictly: rebuilt buffers dropped, vision_multi renamed,
  // captioning branch and other top-level entries ignored; missing / unexpected / mis-shaped
  // keys refused with their names.
  void loaderRules() {
    const auto original = gligen::tag::read_ram_checkpoint(checkpoint_);
    const auto& ref = runs_.front();
    const auto logits_with = [&](const gligen::io::StateDict& sd,
                                 const std::vector<std::pair<std::string, gligen::io::PyValuePtr>>& extra) {
      QTemporaryDir tmp;
      const std::string path = tmp.path().toStdString() + "/variant.pth";
      write_checkpoint(path, sd, extra);
      auto o = options();
      o.path = path;
      return RamTagger::load(o).run({ref.image}).logits;
    };
    // Without the recomputed buffers, with tagging_head named vision_multi, with an optimizer entry.
    gligen::io::StateDict renamed;
    int buffers = 0, head = 0;
    for (const auto& [k, v] : original) {
      if (k.find("relative_position_index") != std::string::npos || k.find("attn_mask") != std::string::npos) {
        ++buffers;
        continue;
      }
      std::string key = k;
      if (key.rfind("tagging_head.", 0) == 0) {
        key = "vision_multi." + key.substr(13);
        ++head;
      }
      renamed[key] = v;
    }
    QVERIFY(buffers > 0 && head > 0);
    auto extra = gligen::io::py_dict({{"state", gligen::io::py_tensor(torch::zeros({3}))}});
    const auto logits = logits_with(renamed, {{"optimizer", extra}, {"epoch", gligen::io::py_int(3)}});
    QVERIFY(torch::equal(logits, ref.run.logits));

    // A missing tagging-path weight, an unexpected key, a mis-shaped table.
    std::string dropped;
    for (const auto& [k, v] : original) {
      if (k.rfind("tagging_head.", 0) == 0) {
        dropped = k;
        break;
      }
    }
    auto missing = original;
    missing.erase(dropped);
    expect_refused(missing, {dropped, "missing", "random weights"});
    auto unexpected = original;
    unexpected["visual_encoder.extra.weight"] = torch::zeros({2});
    expect_refused(unexpected, {"visual_encoder.extra.weight", "unexpected"});
    auto table = original;
    std::string table_key;
    for (auto& [k, v] : table) {
      if (k.find("relative_position_bias_table") != std::string::npos) {
        table_key = k;
        v = torch::zeros({v.size(0) + 1, v.size(1)});
        break;
      }
    }
    QVERIFY(!table_key.empty());
    expect_refused(table, {table_key, "interpolate"});
    // The captioning branch is not needed.
    gligen::io::StateDict tagging_only;
    for (const auto& [k, v] : original) {
      if (k.rfind("tag_encoder.", 0) != 0 && k.rfind("text_decoder.", 0) != 0) tagging_only[k] = v;
    }
    QVERIFY(tagging_only.size() < original.size());
    QVERIFY(torch::equal(logits_with(tagging_only, {}), ref.run.logits));
  }

  // Missing or mismatched tag lists are errors naming the file and the counts.
  void tagListErrors() {
    QTemporaryDir tmp;
    const std::string dir = tmp.path().toStdString();
    const auto lists = ram_->tag_lists();
    const auto en = fs::path(lists.english_file).filename().string();
    const auto zh = fs::path(lists.chinese_file).filename().string();
    const auto th = fs::path(lists.threshold_file).filename().string();
    fs::copy_file(lists.english_file, dir + "/" + en);
    fs::copy_file(lists.threshold_file, dir + "/" + th);
    auto o = options();
    o.tag_list_dir = dir;
    try {
      RamTagger::load(o);
      QFAIL("a missing Chinese list was accepted");
    } catch (const gligen::Error& e) {
      QVERIFY2(std::string(e.what()).find(zh) != std::string::npos, e.what());
    }
    // One line short.
    auto lines = gligen::tag::split_lines_like_python(read_file(lists.chinese_file));
    lines.pop_back();
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    write_file(dir + "/" + zh, text);
    try {
      RamTagger::load(o);
      QFAIL("a short Chinese list was accepted");
    } catch (const gligen::Error& e) {
      const std::string msg = e.what();
      QVERIFY2(msg.find(zh) != std::string::npos, e.what());
      QVERIFY2(msg.find(std::to_string(lines.size())) != std::string::npos, e.what());
      QVERIFY2(msg.find(std::to_string(lists.english.size())) != std::string::npos, e.what());
    }
  }

  // The built-in configuration is the released one (real/ram/configs), with the real tag lists.
  void builtInConfigIsTheRealOne() {
    const std::string real = fixture_file("real/ram/configs");
    GLIGEN_REQUIRE_FIXTURE(real);
    const gligen::tag::RamConfig builtin;
    gligen::tag::RamConfig read;
    read.swin = {};
    read.swin.depths = {1};
    read.swin.num_heads = {1};
    read.swin.embed_dim = 1;
    read.q2l.num_hidden_layers = 99;  // so that a key not read would show
    read.q2l.hidden_act = "relu";
    read.med.vocab_size = 7;
    read.med.num_attention_heads = 1;
    gligen::tag::read_ram_configs(real, read);
    QCOMPARE(read.swin.vision_width, builtin.swin.vision_width);
    QCOMPARE(read.swin.image_res, builtin.swin.image_res);
    QCOMPARE(read.swin.window_size, builtin.swin.window_size);
    QCOMPARE(read.swin.embed_dim, builtin.swin.embed_dim);
    QCOMPARE(read.swin.depths, builtin.swin.depths);
    QCOMPARE(read.swin.num_heads, builtin.swin.num_heads);
    for (auto [a, b] : {std::pair{&read.q2l, &builtin.q2l}, std::pair{&read.med, &builtin.med}}) {
      QCOMPARE(a->hidden_size, b->hidden_size);
      QCOMPARE(a->num_attention_heads, b->num_attention_heads);
      QCOMPARE(a->num_hidden_layers, b->num_hidden_layers);
      QCOMPARE(a->intermediate_size, b->intermediate_size);
      QCOMPARE(a->hidden_act, b->hidden_act);
      QCOMPARE(a->layer_norm_eps, b->layer_norm_eps);
      QCOMPARE(a->vocab_size, b->vocab_size);
    }
    const auto lists = gligen::tag::read_ram_tag_lists(fixture_file("real/ram/data"));
    QCOMPARE(int64_t(lists.english.size()), builtin.num_classes);
    QCOMPARE(lists.chinese.size(), lists.english.size());
    QCOMPARE(lists.thresholds.size(), lists.english.size());
  }

  // The full-size model's tagging path has the names and shapes of the real checkpoint
  // (real/param_inventory.json): every module entry is in the inventory with its shape, and
  // every inventory entry the tagging path reads (the loader's dropped buffers aside) is built.
  void realModelMatchesInventory() {
    const auto inv = load_json(fixture_file("real/param_inventory.json"));
    std::map<std::string, std::vector<int64_t>> used, all;
    for (const auto& e : inv["entries"]) {
      const std::string name = e["name"];
      all[name] = e["shape"].get<std::vector<int64_t>>();
      if (e["used_by_generate_tag"].get<bool>() && !e.value("deleted_by_loader_before_load", false)) {
        used[name] = all[name];
      }
    }
    gligen::tag::RamConfig config;
    for (const auto& [name, shape] : all) {
      if (name == "label_embed") config.num_classes = shape.at(0);
    }
    QCOMPARE(config.num_classes, builtin_classes());
    const gligen::tag::RamModel model(config);
    std::map<std::string, std::vector<int64_t>> built;
    for (const auto& p : model->named_parameters(true)) built[p.key()] = p.value().sizes().vec();
    for (const auto& b : model->named_buffers(true)) built[b.key()] = b.value().sizes().vec();
    for (const auto& [name, shape] : built) {
      auto it = used.find(name);
      QVERIFY2(it != used.end(), (name + " is not a tagging weight of the real checkpoint").c_str());
      QVERIFY2(it->second == shape, (name + ": shape differs from the real checkpoint").c_str());
    }
    QCOMPARE(built.size(), used.size());
  }

  // ram_release_state_dict (what init-model writes) has exactly the release file's entries:
  // the tiny checkpoint's names, shapes and dtypes for the tiny configuration, and the real
  // inventory's for the built-in one.
  void releaseEntriesMatch() {
    auto same_entries = [](const gligen::io::StateDict& got,
                           const std::map<std::string, std::pair<std::vector<int64_t>, std::string>>& want,
                           const std::string& what) {
      for (const auto& [name, t] : got) {
        auto it = want.find(name);
        QVERIFY2(it != want.end(), (what + ": " + name + " is not in the release file").c_str());
        QVERIFY2(it->second.first == t.sizes().vec(), (what + ": " + name + " has another shape").c_str());
        const std::string dtype = t.scalar_type() == torch::kLong ? "int64" : "float32";
        QVERIFY2(it->second.second == dtype, (what + ": " + name + " is " + dtype).c_str());
      }
      for (const auto& [name, info] : want) QVERIFY2(got.count(name), (what + ": " + name + " is not written").c_str());
    };
    {
      std::map<std::string, std::pair<std::vector<int64_t>, std::string>> want;
      for (const auto& [k, v] : gligen::tag::read_ram_checkpoint(checkpoint_)) {
        QVERIFY(v.scalar_type() == torch::kLong || v.scalar_type() == torch::kFloat32);
        want[k] = {v.sizes().vec(), v.scalar_type() == torch::kLong ? "int64" : "float32"};
      }
      const gligen::tag::RamModel tiny(ram_->config());
      same_entries(gligen::tag::ram_release_state_dict(tiny, false), want, "tiny");
    }
    const auto inv = load_json(fixture_file("real/param_inventory.json"));
    std::map<std::string, std::pair<std::vector<int64_t>, std::string>> want;
    for (const auto& e : inv["entries"]) {
      want[e["name"].get<std::string>()] = {e["shape"].get<std::vector<int64_t>>(), e["dtype"].get<std::string>()};
    }
    QCOMPARE(int64_t(want.size()), inv["num_entries"].get<int64_t>());
    gligen::tag::RamConfig config;
    config.num_classes = want.at("label_embed").first.at(0);
    const gligen::tag::RamModel real(config);
    same_entries(gligen::tag::ram_release_state_dict(real, false), want, "real");
  }

  // init-model's preset folder (here with the fixture's tiny configs) loads and tags.
  void presetLoads() {
    QTemporaryDir tmp;
    const std::string out = tmp.path().toStdString() + "/ram";
    gligen::tag::RamPresetOptions o;
    o.config_dir = config_dir_;
    o.num_classes = ram_->num_classes();
    gligen::tag::write_ram_preset("ram-swin-l", out, o);
    const auto tagger = RamTagger::load(out);
    QCOMPARE(tagger.num_classes(), o.num_classes);
    QCOMPARE(tagger.config().swin.depths, ram_->config().swin.depths);
    const auto tags = tagger.tag({runs_.front().image, runs_.back().image});
    QCOMPARE(tags.size(), size_t(2));
    for (const auto& t : tags) {
      QCOMPARE(t.english.size(), t.fired.size());
      for (size_t i = 0; i < t.fired.size(); ++i)
        QVERIFY(t.probabilities[i] > tagger.tag_lists().thresholds[t.fired[i]]);
    }
    try {
      gligen::tag::write_ram_preset("ram-swin-b", tmp.path().toStdString() + "/other", o);
      QFAIL("an unknown preset was accepted");
    } catch (const gligen::Error&) {}
  }

 private:
  static int64_t builtin_classes() { return gligen::tag::RamConfig().num_classes; }
};

GLIGEN_TEST_GUILESS_MAIN(TestTagRam)
#include "test_tag_ram.moc"
