// core/data: the seed's dataset semantics against dataset/dataset_reference.safetensors (the
// training example's COCODataset with scripted random draws), sharding, and bad images.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/data/grounding_dataset.h"
#include "core/data/prefetch_loader.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/tensor_compare.h"

using namespace gligen;

namespace {

// Replays the draws cases.json records: uniform() returns the scripted values in order and
// choose() the index of the caption the reference picked.
class ScriptedRandom : public data::SampleRandom {
 public:
  ScriptedRandom(std::vector<double> draws, std::size_t choice) : draws_(std::move(draws)), choice_(choice) {}
  double uniform() override { return draws_.at(next_++); }
  std::size_t choose(std::size_t n) override { return choice_ < n ? choice_ : 0; }

 private:
  std::vector<double> draws_;
  std::size_t next_ = 0, choice_;
};

nlohmann::json dataset_cases() {
  std::ifstream in(test::fixture("reference/cases.json"));
  return nlohmann::json::parse(in).at("dataset").at("dataset_reference");
}

}  // namespace

class TestData : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void matchesReference_data() {
    QTest::addColumn<int>("item");
    for (int i = 0; i < 4; ++i) QTest::newRow(("item" + std::to_string(i)).c_str()) << i;
  }

  void matchesReference() {
    QFETCH(int, item);
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/train_data.json"));
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/dataset_reference.safetensors"));
    const auto cases = dataset_cases();
    data::DatasetOptions opt;
    opt.image_size = cases.at("image_size");
    opt.max_boxes = cases.at("max_boxes_per_data");
    opt.min_box_size = cases.at("min_box_size");
    data::GroundingDataset ds(data::load_dataset_records(test::fixture("dataset/train_data.json")),
                              test::fixture("dataset"), test::fixture("tokenizer"), opt);
    std::ifstream records_in(test::fixture("dataset/train_data.json"));
    const auto records = nlohmann::json::parse(records_in);
    QCOMPARE(ds.size(), records.size());
    QCOMPARE(ds.embedding_dim(),
             int64_t(records.at(0).at("annos").at(0).at("text_embeddings_before_projection").size()));
    const auto& c = cases.at("items").at(item);
    const auto& rec = ds.record(item);
    QCOMPARE(rec.file_path, c.at("file_path").get<std::string>());
    std::size_t choice = 0;
    for (std::size_t k = 0; k < rec.captions.size(); ++k)
      if (rec.captions[k] == c.at("caption_chosen").get<std::string>()) choice = k;
    ScriptedRandom random(c.at("random_draws").get<std::vector<double>>(), choice);
    auto sample = ds.get(item, random);
    QVERIFY(sample.has_value());
    QCOMPARE(sample->caption, c.at("caption_used").get<std::string>());
    QCOMPARE(sample->boxes_dropped, c.at("boxes_dropped").get<bool>());
    if (!c.at("n_valid_boxes").is_null()) QCOMPARE(sample->valid_boxes, c.at("n_valid_boxes").get<int>());

    auto ref = io::read_safetensors(test::fixture("dataset/dataset_reference.safetensors")).tensors;
    const std::string p = "item" + std::to_string(item) + "/";
    // Pillow's 8-bit bilinear filter is reproduced exactly, so the pixels agree to float rounding.
    GLIGEN_COMPARE_TENSORS(sample->pixel_values, ref.at(p + "pixel_values"), 1e-6, "pixel_values");
    GLIGEN_COMPARE_TENSORS(sample->boxes, ref.at(p + "boxes"), 1e-7, "boxes");
    QVERIFY(torch::equal(sample->masks, ref.at(p + "masks")));
    QVERIFY(torch::equal(sample->text_embeddings, ref.at(p + "text_embeddings_before_projection")));
    QVERIFY(torch::equal(sample->input_ids, ref.at(p + "input_ids").reshape({-1})));
  }

  void boxesOutsideTheCropAreDropped() {
    data::DatasetRecord r;
    r.file_path = "x.png";
    // 200x100 image, resized to 64x32 and cropped to the middle 32x32 (x in [50, 150) originally).
    r.annos.push_back({"left", {0, 0, 40, 100}, {}});      // entirely left of the crop
    r.annos.push_back({"small", {100, 50, 101, 51}, {}});  // below min_box_size
    r.annos.push_back({"mid", {60, 10, 140, 90}, {}});
    r.annos.push_back({"edge", {140, 0, 200, 100}, {}});  // clipped at the right edge
    data::DatasetOptions opt;
    opt.image_size = 32;
    auto boxes = data::crop_boxes(r, 200, 100, opt);
    QCOMPARE(boxes.size(), std::size_t(2));
    QCOMPARE(boxes[0].anno, std::size_t(2));  // larger area first
    QCOMPARE(boxes[1].anno, std::size_t(3));
    QCOMPARE(boxes[1].xyxy[2], 32.0);
    opt.max_boxes = 1;
    QCOMPARE(data::crop_boxes(r, 200, 100, opt).size(), std::size_t(1));
  }

  void resizeKeepsSizeAndFlatColour() {
    data::Rgb8Image img{7, 5, std::vector<std::uint8_t>(7 * 5 * 3, 200)};
    auto up = data::resize_bilinear_pil(img, 13, 11);
    QCOMPARE(up.width, 13);
    QCOMPARE(up.height, 11);
    for (auto v : up.pixels) QCOMPARE(int(v), 200);
    auto down = data::resize_bilinear_pil(img, 2, 3);
    for (auto v : down.pixels) QCOMPARE(int(v), 200);
    QCOMPARE(data::shorter_side_resize_size(112, 96, 32), std::make_pair(37, 32));
    QCOMPARE(data::shorter_side_resize_size(72, 96, 32), std::make_pair(32, 42));
  }

  void shardsAreDisjointAndMatchOneRank() {
    const std::size_t n = 10;
    auto one = data::shard_epoch(n, 5, 2, 4, 0, 1);
    auto r0 = data::shard_epoch(n, 5, 2, 2, 0, 2);
    auto r1 = data::shard_epoch(n, 5, 2, 2, 1, 2);
    QCOMPARE(one.size(), std::size_t(3));  // ceil(10 / 4), last batch wraps around
    QCOMPARE(r0.size(), one.size());
    std::multiset<std::size_t> seen;
    for (std::size_t k = 0; k < one.size(); ++k) {
      std::vector<std::size_t> both = r0[k];
      both.insert(both.end(), r1[k].begin(), r1[k].end());
      QCOMPARE(both, one[k]);
      if (k + 1 < one.size()) seen.insert(one[k].begin(), one[k].end());
    }
    QCOMPARE(std::set<std::size_t>(seen.begin(), seen.end()).size(), seen.size());  // no repeats before the wrap
    QVERIFY(data::epoch_permutation(n, 5, 2) != data::epoch_permutation(n, 5, 3));
    QVERIFY_THROWS_EXCEPTION(Error, data::shard_epoch(0, 1, 0, 2, 0, 1));
  }

  void badImagesAreSkippedWithACount() {
    QTemporaryDir dir;
    auto records = data::load_dataset_records(test::fixture("dataset/train_data.json"));
    records[1].file_path = "does_not_exist.png";
    {
      std::ofstream bad(dir.filePath("corrupt.png").toStdString());
      bad << "\x89PNG not really";
    }
    records[2].file_path = dir.filePath("corrupt.png").toStdString();  // absolute path wins over the root
    data::DatasetOptions opt;
    opt.image_size = 32;
    auto ds =
        std::make_shared<data::GroundingDataset>(records, test::fixture("dataset"), test::fixture("tokenizer"), opt);
    std::vector<std::string> logs;
    std::mutex m;
    data::PrefetchLoader loader(ds, 1, 2, 2, [&](const std::string& s) {
      std::lock_guard<std::mutex> l(m);
      logs.push_back(s);
    });
    loader.start_epoch(0, {{0, 1}, {2, 3}, {1, 2}});
    std::vector<int64_t> got;
    while (auto b = loader.next()) {
      QCOMPARE(b->pixel_values.size(0), int64_t(2));
      for (auto i : b->indices) got.push_back(i);
    }
    // 1 and 2 are replaced by the next readable record (3).
    QCOMPARE(got, (std::vector<int64_t>{0, 3, 3, 3, 3, 3}));
    QCOMPARE(loader.skipped_images(), int64_t(2));
    QCOMPARE(logs.size(), std::size_t(2));
    QVERIFY(QString::fromStdString(logs[0]).contains("missing or cannot be decoded"));
  }

  void samplesAreReproducible() {
    data::DatasetOptions opt;
    opt.image_size = 32;
    auto ds =
        std::make_shared<data::GroundingDataset>(data::load_dataset_records(test::fixture("dataset/train_data.json")),
                                                 test::fixture("dataset"), test::fixture("tokenizer"), opt);
    data::PrefetchLoader a(ds, 9, 0, 1), b(ds, 9, 3, 4);
    auto plan = data::shard_epoch(ds->size(), 9, 0, 2, 0, 1);
    a.start_epoch(0, plan);
    b.start_epoch(0, plan, 0);
    for (int k = 0; k < 2; ++k) {
      auto x = a.next(), y = b.next();
      QVERIFY(x && y);
      QVERIFY(torch::equal(x->pixel_values, y->pixel_values));
      QVERIFY(torch::equal(x->masks, y->masks));
      QVERIFY(torch::equal(x->input_ids, y->input_ids));
    }
    QVERIFY(!a.next());
  }

  void badRecordListsAreRefused() {
    QTemporaryDir dir;
    const std::string p = dir.filePath("d.json").toStdString();
    std::ofstream(p) << R"([{"captions": ["x"]}])";
    QVERIFY_THROWS_EXCEPTION(Error, data::load_dataset_records(p));
    std::ofstream(p) << "not json";
    QVERIFY_THROWS_EXCEPTION(Error, data::load_dataset_records(p));
    QVERIFY_THROWS_EXCEPTION(Error, data::load_dataset_records(dir.filePath("missing.json").toStdString()));
    std::ofstream(p) << "[]";
    QVERIFY(data::load_dataset_records(p).empty());
  }
};

QTEST_GUILESS_MAIN(TestData)
#include "test_data.moc"
