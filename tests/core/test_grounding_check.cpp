// The grounding check: box-to-detection matching on hand-made detections, the check on a real
// detector run (the fixture's tiny Grounding DINO), and `generate --check / --max-tries`, whose
// result travels in the PNG's layout.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/grounding_dataset.h"
#include "core/detect/grounding_check.h"
#include "core/detect/grounding_dino.h"
#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"
#include "core/train/trainer.h"
#include "support/fixtures.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The detector folder the dataset pipeline fixture names.
std::string detector_dir() {
  const std::string dir = test::fixture("datagen/pipeline");
  std::ifstream f(dir + "/cases.json");
  const json cases = json::parse(f);
  return (fs::path(dir) / cases.at("models").at("grounding_dino").get<std::string>()).lexically_normal().string();
}

std::string first_pipeline_image() {
  const std::string dir = test::fixture("datagen/pipeline");
  std::ifstream f(dir + "/expected.json");
  const json expected = json::parse(f);
  return dir + "/images/" + expected.at("images").at(0).at("file_name").get<std::string>();
}

}  // namespace

class TestGroundingCheck : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void iouOfBoxes() {
    QCOMPARE(detect::box_iou({0, 0, 1, 1}, {0, 0, 1, 1}), 1.0);
    QCOMPARE(detect::box_iou({0, 0, 0.5, 1}, {0.5, 0, 1, 1}), 0.0);
    QVERIFY(std::abs(detect::box_iou({0, 0, 0.5, 0.5}, {0, 0, 0.5, 0.25}) - 0.5) < 1e-12);
    QCOMPARE(detect::box_iou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.0);  // empty boxes never match
  }

  void matchingTakesTheBestOverlapOncePerDetection() {
    const std::vector<std::string> phrases = {"a cat", "a dog"};
    const std::vector<detect::PhraseBox> boxes = {
        {"a cat", {0, 0, 0.5, 0.5}, 0}, {"a dog", {0.5, 0.5, 1, 1}, 1}, {"a cat", {0.5, 0, 1, 0.5}, 3}};
    // q0: a cat exactly on box 0; q1: a cat mostly on box 3 (IoU 0.8); q2: a dog far from its box;
    // q3: a dog on its box but below the box threshold; q4: a cat on box 0 again, weaker.
    const std::vector<std::vector<double>> scores = {{0.9, 0.1}, {0.8, 0.2}, {0.1, 0.3}, {0.05, 0.2}, {0.6, 0.1}};
    const std::vector<std::array<double, 4>> qboxes = {
        {0, 0, 0.5, 0.5}, {0.5, 0, 1, 0.4}, {0, 0.6, 0.2, 0.8}, {0.5, 0.5, 1, 1}, {0, 0, 0.5, 0.5}};
    detect::CheckOptions o;
    const auto r = detect::match_phrase_boxes(boxes, phrases, scores, qboxes, o);
    QCOMPARE(r.boxes.size(), size_t(3));
    QCOMPARE(r.boxes[0].box, 0);
    QVERIFY(r.boxes[0].found);
    QCOMPARE(r.boxes[0].iou, 1.0);
    QVERIFY(std::abs(r.boxes[0].score - 0.9) < 1e-12);  // the tie in IoU goes to the first query
    QVERIFY(!r.boxes[1].found);
    QCOMPARE(r.boxes[1].iou, 0.0);
    QVERIFY(r.boxes[1].detection.has_value());  // matched to q2, which misses
    QCOMPARE(r.boxes[2].box, 3);
    QVERIFY(r.boxes[2].found);
    QVERIFY(std::abs(r.boxes[2].iou - 0.8) < 1e-12);
    QCOMPARE(r.found, 2);
    QVERIFY(std::abs(r.fraction_found - 2.0 / 3.0) < 1e-12);
    // A stricter IoU threshold: box 3 is no longer found.
    o.iou_threshold = 0.9;
    QCOMPARE(detect::match_phrase_boxes(boxes, phrases, scores, qboxes, o).found, 1);
    // No boxes: nothing to miss.
    QCOMPARE(detect::match_phrase_boxes({}, phrases, scores, qboxes, {}).fraction_found, 1.0);
    // JSON round trip.
    const auto back = detect::grounding_check_from_json(detect::grounding_check_to_json(r));
    QCOMPARE(back.found, r.found);
    QCOMPARE(back.boxes.size(), r.boxes.size());
    QCOMPARE(back.boxes[2].iou, r.boxes[2].iou);
    QCOMPARE(*back.boxes[1].detection, *r.boxes[1].detection);
  }

  void checkOnADetectorRun() {
    const auto dino = detect::GroundingDino::load(detector_dir());
    const auto image = data::read_rgb8(first_pipeline_image());
    QVERIFY(image.has_value());
    const std::vector<detect::PhraseBox> boxes = {{"a cat", {0.05, 0.05, 0.5, 0.6}, 0},
                                                  {"a red car", {0.4, 0.3, 0.95, 0.9}, 1},
                                                  {"a cat", {0.5, 0.1, 0.9, 0.5}, 2}};
    const auto r = detect::check_grounding(dino, *image, boxes);
    QCOMPARE(r.boxes.size(), boxes.size());
    int found = 0;
    for (const auto& b : r.boxes) {
      QVERIFY(b.iou >= 0 && b.iou <= 1);
      if (b.detection) {
        QCOMPARE(b.iou, detect::box_iou(boxes[static_cast<size_t>(b.box)].box, *b.detection));
        QVERIFY(b.score > 0.25);
      } else {
        QCOMPARE(b.iou, 0.0);
      }
      QCOMPARE(b.found, b.iou >= 0.5);
      found += b.found;
    }
    QCOMPARE(r.found, found);
    QCOMPARE(r.fraction_found, found / 3.0);
    // With IoU 0 required, every box that got a detection counts.
    detect::CheckOptions lenient;
    lenient.iou_threshold = 0;
    const auto all = detect::check_grounding(dino, *image, boxes, lenient);
    int matched = 0;
    for (const auto& b : all.boxes) {
      QCOMPARE(b.found, b.detection.has_value());
      matched += b.found;
    }
    QVERIFY(matched > 0);  // the detector found something for at least one phrase
  }

  void generateChecksAndReseeds() {
    const QString out = dir_.filePath("checked.png");
    const QString model = QString::fromStdString(test::fixture("tiny-gligen"));
    const QStringList base = {
        "generate", "--model",         model,      "--prompt", "a photo", "--phrase",        "a cat",
        "--box",    "0.1,0.1,0.5,0.5", "--phrase", "a dog",    "--box",   "0.5,0.5,0.9,0.9", "--steps",
        "2",        "--seed",          "11",       "--out",    out};
    // No detector: a clear error.
    auto run = test::run_trainer(QStringList(base) << "--check");
    QVERIFY(run.exit_code != 0);
    QVERIFY2(run.err.contains("--detector"), qPrintable(run.err));
    // Three tries (the tiny random model rarely grounds anything, so all three run).
    run = test::run_trainer(QStringList(base) << "--max-tries"
                                              << "3"
                                              << "--detector" << QString::fromStdString(detector_dir()) << "--events");
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    std::vector<json> checks;
    for (const auto& line : run.out.split('\n')) {
      if (line.trimmed().isEmpty()) continue;
      const auto j = json::parse(line.toStdString());
      if (j.at("kind") == "check") checks.push_back(j);
    }
    QVERIFY(!checks.empty() && checks.size() <= 3);
    QCOMPARE(checks[0].at("seed").get<int>(), 11);
    double best = -1;
    int64_t best_seed = -1;
    for (size_t k = 0; k < checks.size(); ++k) {
      QCOMPARE(checks[k].at("seed").get<int64_t>(), static_cast<int64_t>(11 + k));
      if (checks[k].at("fraction_found").get<double>() > best) {
        best = checks[k].at("fraction_found");
        best_seed = checks[k].at("seed");
      }
    }
    if (checks.size() < 3) QCOMPARE(checks.back().at("fraction_found").get<double>(), 1.0);  // stopped early
    // The kept image is the best try, and its check is in the PNG's layout.
    const auto text = read_png_text(out.toStdString());
    const json layout = json::parse(text.at(kLayoutPngKey));
    QCOMPARE(layout.at("seed").get<int64_t>(), best_seed);
    const auto check = detect::grounding_check_from_json(layout.at("grounding_check"));
    QCOMPARE(check.boxes.size(), size_t(2));
    QCOMPARE(check.fraction_found, best);
    // And the PNG still opens as a layout.
    const Layout l = layout_from_json(text.at(kLayoutPngKey));
    QCOMPARE(l.boxes.size(), size_t(2));
  }

  void trainingWritesTheGroundingMetric() {
    // Validation images of a training run checked with the detector: one metric per validation.
    const QString out = dir_.filePath("train");
    QStringList flags = {"train",
                         "--pretrained-model",
                         QString::fromStdString(test::fixture("tiny-gligen")),
                         "--data-path",
                         QString::fromStdString(test::fixture("dataset/train_data.json")),
                         "--image-path",
                         QString::fromStdString(test::fixture("dataset")),
                         "--output-dir",
                         out,
                         "--resolution",
                         "32",
                         "--train-batch-size",
                         "2",
                         "--seed",
                         "3",
                         "--embed-with-model",
                         "--threads",
                         "1",
                         "--max-train-steps",
                         "2",
                         "--validation-steps",
                         "1",
                         "--validation-inference-steps",
                         "2",
                         "--validation-images",
                         "2"};
    // Without validation the check has nothing to look at: a clear error.
    auto run = test::run_trainer(QStringList(flags.mid(0, flags.size() - 6))
                                 << "--grounding-detector" << QString::fromStdString(detector_dir()));
    QVERIFY(run.exit_code != 0);
    QVERIFY2(run.err.contains("--validation-steps"), qPrintable(run.err));
    run = test::run_trainer(QStringList(flags) << "--grounding-detector" << QString::fromStdString(detector_dir()));
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    std::ifstream events((out + "/events.jsonl").toStdString());
    std::vector<json> metrics;
    for (std::string line; std::getline(events, line);) {
      const auto j = json::parse(line);
      if (j.at("kind") == "metric" && j.at("name") == "grounding_fraction_found") metrics.push_back(j);
    }
    QCOMPARE(metrics.size(), size_t(2));  // steps 1 and 2
    const size_t boxes = train::seed_validation_layout().active_boxes().size();
    for (size_t k = 0; k < metrics.size(); ++k) {
      QCOMPARE(metrics[k].at("step").get<int>(), static_cast<int>(k + 1));
      QCOMPARE(metrics[k].at("boxes").get<size_t>(), 2 * boxes);  // two validation images
      const double v = metrics[k].at("value");
      QVERIFY(v >= 0 && v <= 1);
      QCOMPARE(v, metrics[k].at("boxes_found").get<double>() / metrics[k].at("boxes").get<double>());
    }
  }
};

QTEST_GUILESS_MAIN(TestGroundingCheck)
#include "test_grounding_check.moc"
