// gligen-trainer detect and init-model --preset grounding-dino-*, as a user runs them: the JSON
// output equals the fixture's detections after NMS (the seed's make_datasets.py result), the
// drawn image is written, bad input gets a clear error, and a preset folder loads strictly.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/detect/grounding_dino.h"
#include "support/fixtures.h"
#include "support/trainer_process.h"

namespace {

using Run = gligen::test::TrainerRun;
Run trainer(const QStringList& args) { return gligen::test::run_trainer(args, 600000); }
const std::string kRoot = "datagen/grounding-dino";

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

class TestTrainerDetect : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY2(!qgetenv("GLIGEN_TRAINER").isEmpty(), "GLIGEN_TRAINER must point at the gligen-trainer binary");
    QVERIFY(dir_.isValid());
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture(kRoot + "/cases.json"));
  }

  void jsonEqualsTheSeedResult() {
    const auto cases = load_json(gligen::test::fixture(kRoot + "/cases.json"));
    const auto& c = cases["cases"][0];
    const QString drawn = dir_.filePath("drawn.png");
    Run r = trainer({"detect", "--detector", QString::fromStdString(gligen::test::fixture(kRoot + "/model")), "--image",
                     QString::fromStdString(gligen::test::fixture(kRoot + "/" + c["image"].get<std::string>())),
                     "--text", QString::fromStdString(c["text"].get<std::string>()), "--box-threshold",
                     QString::number(cases["thresholds"]["box_threshold"].get<double>()), "--text-threshold",
                     QString::number(cases["thresholds"]["text_threshold"].get<double>()), "--json", "--draw", drawn,
                     "--threads", "1"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto out = nlohmann::json::parse(r.out.toStdString());
    const auto& after = c["after_nms"];
    QCOMPARE(out.size(), after.size());
    for (size_t i = 0; i < after.size(); ++i) {
      QCOMPARE(out[i]["label"].get<std::string>(), after[i]["label"].get<std::string>());
      for (int k = 0; k < 4; ++k) {
        QVERIFY(std::abs(out[i]["box"][k].get<double>() - after[i]["box_xyxy"][k].get<double>()) < 3e-3);
      }
      if (i > 0) QVERIFY(out[i - 1]["score"].get<double>() >= out[i]["score"].get<double>());
    }
    const auto image = gligen::detect::load_image_rgb(drawn.toStdString());
    QCOMPARE(image.height, c["image_size_hw"][0].get<int>());
    QCOMPARE(image.width, c["image_size_hw"][1].get<int>());
  }

  void badInputIsAClearError() {
    const QString model = QString::fromStdString(gligen::test::fixture(kRoot + "/model"));
    Run missing = trainer({"detect", "--detector", model, "--image", dir_.filePath("nope.png"), "--text", "cat"});
    QCOMPARE(missing.exit_code, 2);
    QVERIFY2(missing.err.contains("nope.png"), qPrintable(missing.err));
    Run no_text = trainer({"detect", "--detector", model, "--image", dir_.filePath("nope.png")});
    QCOMPARE(no_text.exit_code, 2);
    QVERIFY2(no_text.err.contains("--text"), qPrintable(no_text.err));
    Run no_model = trainer({"detect", "--detector", dir_.filePath("none"), "--image", "x.png", "--text", "cat"});
    QCOMPARE(no_model.exit_code, 2);
    QVERIFY2(no_model.err.contains("does not exist"), qPrintable(no_model.err));
  }

  // The Swin-T preset (the real grounding-dino-tiny layout) loads strictly and detects.
  void presetFolderLoads() {
    const QString out = dir_.filePath("gd-tiny");
    Run r = trainer({"init-model", "--preset", "grounding-dino-tiny", "--out", out, "--seed", "1"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto dino = gligen::detect::GroundingDino::load(out.toStdString());
    QCOMPARE(dino.config().backbone.window_size, int64_t(7));
    QCOMPARE(dino.config().num_queries, int64_t(900));
    QCOMPARE(dino.tokenizer().token_to_id("."), int64_t(1012));
    QCOMPARE(dino.tokenizer().encode("cat. dog").size(), size_t(9));  // letters: [CLS] c ##a ##t . d ##o ##g [SEP]
  }
};

QTEST_GUILESS_MAIN(TestTrainerDetect)
#include "test_trainer_detect.moc"
