// The grounding check in the studio: the worker checks each image with the detector, Generate
// Until Grounded tries consecutive seeds and keeps the best, the gallery shows every try with its
// score, the selected result's boxes are outlined on the canvas, and the check is saved in the PNG.
#include <QApplication>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/pipeline/png_io.h"
#include "resources/resources.h"
#include "support/fixtures.h"
#include "support/studio_window.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/generation_job.h"
#include "ui/studio/generation_panel.h"
#include "ui/studio/layout_canvas.h"
#include "ui/studio/layout_document.h"
#include "ui/studio/main_window.h"
#include "ui/studio/results_gallery.h"

using namespace gligen::ui;
namespace fs = std::filesystem;

namespace {

QString tinyModel() { return QString::fromStdString(gligen::test::fixture("tiny-gligen")); }

// The detector folder the dataset pipeline fixture names.
QString detectorFolder() {
  const std::string dir = gligen::test::fixture("datagen/pipeline");
  std::ifstream f(dir + "/cases.json");
  const auto cases = nlohmann::json::parse(f);
  return QString::fromStdString(
      (fs::path(dir) / cases.at("models").at("grounding_dino").get<std::string>()).lexically_normal().string());
}

gligen::Layout twoBoxes() {
  gligen::Layout l;
  l.prompt = "a cat and a dog";
  l.boxes.push_back({"a cat", 0.1f, 0.1f, 0.5f, 0.5f, true});
  l.boxes.push_back({"a dog", 0.5f, 0.4f, 0.9f, 0.9f, true});
  l.boxes.push_back({"a bird", 0.6f, 0.05f, 0.95f, 0.3f, false});  // disabled: not checked
  l.steps = 2;
  l.seed = 21;
  l.scheduler = "ddim";
  return l;
}

}  // namespace

class TestStudioGrounding : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    gligen::initResources();
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("gligen-studio-tests");
    QVERIFY(dir_.isValid());
  }

  void jobChecksEveryTryAndKeepsTheBest() {
    GenerationJob job;
    QSignalSpy loaded(&job, &GenerationJob::modelLoaded);
    job.loadModel(tinyModel(), QString(), "cpu", "float32");
    QCOMPARE(loaded.count(), 1);
    // Without a detector: a clear refusal.
    QSignalSpy failed(&job, &GenerationJob::generationFailed);
    job.generateUntilGrounded(twoBoxes(), 3);
    QCOMPARE(failed.count(), 1);
    QVERIFY2(failed.at(0).at(0).toString().contains("detector"), qPrintable(failed.at(0).at(0).toString()));
    QSignalSpy detector(&job, &GenerationJob::detectorLoaded);
    job.setDetector(detectorFolder(), 0.5);
    QCOMPARE(detector.count(), 1);
    QVERIFY(job.hasDetector());

    QSignalSpy ready(&job, &GenerationJob::imagesReady);
    QSignalSpy done(&job, &GenerationJob::groundingFinished);
    job.generateUntilGrounded(twoBoxes(), 3);
    QCOMPARE(done.count(), 1);
    const int tries = done.at(0).at(3).toInt();
    QVERIFY(tries >= 1 && tries <= 3);
    QCOMPARE(ready.count(), tries);
    double best = -1;
    quint64 best_seed = 0;
    for (int t = 0; t < tries; ++t) {
      const auto images = ready.at(t).at(0).value<QVector<GeneratedImage>>();
      QCOMPARE(images.size(), 1);
      const GeneratedImage& g = images.front();
      QCOMPARE(g.tryNumber, t + 1);
      QCOMPARE(*g.layout.seed, quint64(21 + t));
      QVERIFY(g.check.has_value());
      QCOMPARE(g.check->boxes.size(), size_t(2));  // the disabled box is not checked
      QCOMPARE(g.check->boxes[1].box, 1);
      if (g.check->fraction_found > best) {
        best = g.check->fraction_found;
        best_seed = *g.layout.seed;
      }
    }
    QCOMPARE(done.at(0).at(1).value<quint64>(), best_seed);
    QCOMPARE(done.at(0).at(2).toDouble(), best);
    if (tries < 3) QCOMPARE(best, 1.0);  // it stops early only when every box is found

    // A plain generation is checked too while a detector is set; unset, it is not.
    ready.clear();
    job.generate(twoBoxes());
    QCOMPARE(ready.count(), 1);
    QVERIFY(ready.at(0).at(0).value<QVector<GeneratedImage>>().front().check.has_value());
    job.setDetector(QString(), 0.5);
    QVERIFY(!job.hasDetector());
    ready.clear();
    job.generate(twoBoxes());
    QVERIFY(!ready.at(0).at(0).value<QVector<GeneratedImage>>().front().check.has_value());
  }

  void studioShowsTriesBadgesAndOverlay() {
    MainWindow window(gligen::test::quiet_window());
    window.resize(1360, 860);
    window.show();
    QSignalSpy ready(&window, &MainWindow::modelReady);
    QVERIFY(window.loadModel({tinyModel(), QString()}));
    QVERIFY(ready.wait(120000));
    QSignalSpy detector(&window, &MainWindow::detectorReady);
    window.setGroundingCheck(detectorFolder(), 0.5, 3);
    QVERIFY(detector.wait(120000));
    QVERIFY2(detector.at(0).at(0).toBool(), qPrintable(detector.at(0).at(1).toString()));
    window.document()->loadLayout(twoBoxes(), "test layout");
    window.generationPanel()->setSeedMode(SeedMode::Fixed);
    QSignalSpy finished(&window, &MainWindow::generationFinished);
    window.generateUntilGrounded();
    QVERIFY(finished.wait(240000));
    const auto& results = window.gallery()->results();
    QVERIFY(!results.isEmpty() && results.size() <= 3);
    for (const auto& g : results) QVERIFY(g.check.has_value());
    // The kept try is selected, its layout is the document's, and its check is drawn.
    const int kept = window.gallery()->currentResult();
    QVERIFY(kept >= 0);
    for (const auto& g : results) QVERIFY(g.check->fraction_found <= results[kept].check->fraction_found);
    QVERIFY(window.canvas()->hasGroundingOverlay());
    QVERIFY(window.gallery()->item(0)->text().startsWith("try "));
    QVERIFY(window.gallery()->item(0)->toolTip().contains("Grounding check"));
    const QByteArray shots = qgetenv("GLIGEN_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(window.grab().save(QString::fromLocal8Bit(shots) + "/studio-grounding-check.png"));
    // Saved with its check in the layout.
    const QString png = dir_.filePath("kept.png");
    window.gallery()->savePng(kept, png);
    const auto text = gligen::read_png_text(png.toStdString());
    const auto j = nlohmann::json::parse(text.at(gligen::kLayoutPngKey));
    QVERIFY(j.contains("grounding_check"));
    QCOMPARE(j.at("grounding_check").at("boxes").size(), size_t(2));
    // Editing a box clears the overlay: it describes the image, not the edited layout.
    gligen::Layout edited = window.document()->toLayout();
    edited.boxes[0].x1 = 0.45f;
    window.document()->loadLayout(edited, "edit");
    QVERIFY(!window.canvas()->hasGroundingOverlay());
  }
};

QTEST_MAIN(TestStudioGrounding)
#include "test_studio_grounding.moc"
