// GenerationJob and the studio window on the tiny fixture model: loading reports problems in
// words, generation sends progress and previews, Cancel stops before the next step, and a
// result carries its exact layout into the gallery, a PNG, and back into the document.
#include <QApplication>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QUndoStack>

#include "core/pipeline/png_io.h"
#include "resources/resources.h"
#include "support/fixtures.h"
#include "support/studio_window.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/generation_job.h"
#include "ui/studio/generation_panel.h"
#include "ui/studio/layout_document.h"
#include "ui/studio/live_preview.h"
#include "ui/studio/main_window.h"
#include "ui/studio/results_gallery.h"

using namespace gligen::ui;

namespace {

QString tinyModel() { return QString::fromStdString(gligen::test::fixture("tiny-gligen")); }

gligen::Layout smallLayout(int steps) {
  gligen::Layout l;
  l.prompt = "a cat and a dog";
  l.boxes.push_back({"a cat", 0.1f, 0.1f, 0.5f, 0.5f, true});
  l.boxes.push_back({"a dog", 0.5f, 0.4f, 0.9f, 0.9f, true});
  l.steps = steps;
  l.seed = 3;
  l.scheduler = "ddim";
  return l;
}

}  // namespace

class TestGenerationJob : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    gligen::initResources();
    QStandardPaths::setTestModeEnabled(true);  // keep QSettings away from the user's
    QCoreApplication::setOrganizationName("gligen-studio-tests");
  }

  void loadReportsModelDefaults() {
    GLIGEN_REQUIRE_FIXTURE(tinyModel().toStdString());
    GenerationJob job;
    QSignalSpy loaded(&job, &GenerationJob::modelLoaded);
    QSignalSpy status(&job, &GenerationJob::status);
    job.loadModel(tinyModel(), QString(), "cpu", "float32");
    QCOMPARE(loaded.count(), 1);
    QVERIFY(status.count() >= 1);
    const auto info = loaded.at(0).at(0).value<ModelInfo>();
    QVERIFY(!info.defaultSize.isEmpty());
    QVERIFY(!info.defaultScheduler.isEmpty());
    QVERIFY(!info.inpainting);
    QVERIFY(job.hasModel());
  }

  void badFolderFailsInWords() {
    QTemporaryDir empty;
    GenerationJob job;
    QSignalSpy failed(&job, &GenerationJob::modelFailed);
    job.loadModel(empty.path(), QString(), "cpu", "float32");
    QCOMPARE(failed.count(), 1);
    const QString message = failed.at(0).at(0).toString();
    QVERIFY2(message.contains("model_index.json") || message.contains("unet"), qPrintable(message));
    QVERIFY(!message.contains("Exception raised from"));
    QVERIFY(!job.hasModel());
  }

  void generationWithoutModelFails() {
    GenerationJob job;
    QSignalSpy failed(&job, &GenerationJob::generationFailed);
    job.generate(smallLayout(2));
    QCOMPARE(failed.count(), 1);
  }

  void generateSendsProgressPreviewAndResult() {
    GLIGEN_REQUIRE_FIXTURE(tinyModel().toStdString());
    GenerationJob job;
    job.loadModel(tinyModel(), QString(), "cpu", "float32");
    QVERIFY(job.hasModel());
    QSignalSpy progress(&job, &GenerationJob::progress);
    QSignalSpy preview(&job, &GenerationJob::preview);
    QSignalSpy ready(&job, &GenerationJob::imagesReady);
    job.generate(smallLayout(4));
    QCOMPARE(ready.count(), 1);
    QCOMPARE(progress.count(), 4);
    for (int i = 0; i < 4; ++i) {
      QCOMPARE(progress.at(i).at(0).toInt(), i + 1);
      QCOMPARE(progress.at(i).at(1).toInt(), 4);
    }
    QCOMPARE(preview.count(), 4);
    QVERIFY(!preview.at(0).at(0).value<QImage>().isNull());
    const auto images = ready.at(0).at(0).value<QVector<GeneratedImage>>();
    QCOMPARE(images.size(), 1);
    const gligen::Layout& l = images[0].layout;
    QCOMPARE(l.seed.value_or(0), std::uint64_t(3));
    QCOMPARE(images[0].image.width(), l.width);
    QCOMPARE(images[0].image.height(), l.height);
    QCOMPARE(l.boxes.size(), std::size_t(2));
    QCOMPARE(QString::fromStdString(l.model), tinyModel());
    // Same layout, same seed: the same pixels.
    job.generate(smallLayout(4));
    QCOMPARE(ready.count(), 2);
    QCOMPARE(ready.at(1).at(0).value<QVector<GeneratedImage>>()[0].image, images[0].image);
  }

  void cancelStopsBeforeTheNextStep() {
    GLIGEN_REQUIRE_FIXTURE(tinyModel().toStdString());
    GenerationJob job;
    job.loadModel(tinyModel(), QString(), "cpu", "float32");
    QSignalSpy progress(&job, &GenerationJob::progress);
    QSignalSpy cancelled(&job, &GenerationJob::generationCancelled);
    QSignalSpy ready(&job, &GenerationJob::imagesReady);
    connect(&job, &GenerationJob::progress, &job, [&job](int done, int) {
      if (done == 2) job.cancel();
    });
    job.generate(smallLayout(10));
    QCOMPARE(cancelled.count(), 1);
    QCOMPARE(ready.count(), 0);
    QCOMPARE(progress.count(), 2);
    // A new generation is not affected by the old cancel.
    job.generate(smallLayout(1));
    QCOMPARE(ready.count(), 1);
  }

  void createsAndLoadsTheDemoModel() {
    QTemporaryDir dir;
    const QString folder = dir.filePath("demo");
    GenerationJob job;
    QSignalSpy created(&job, &GenerationJob::demoModelCreated);
    QSignalSpy failed(&job, &GenerationJob::demoModelFailed);
    job.createDemoModel(folder);
    QCOMPARE(failed.count(), 0);
    QCOMPARE(created.count(), 1);
    QSignalSpy loaded(&job, &GenerationJob::modelLoaded);
    job.loadModel(folder, QString(), "cpu", "float32");
    QCOMPARE(loaded.count(), 1);
    // A second demo model into the same (now full) folder is refused in words.
    job.createDemoModel(folder);
    QCOMPARE(failed.count(), 1);
    QVERIFY(!failed.at(0).at(0).toString().isEmpty());
  }

  void runsOnAWorkerThread() {
    GLIGEN_REQUIRE_FIXTURE(tinyModel().toStdString());
    QThread worker;
    auto* job = new GenerationJob;
    job->moveToThread(&worker);
    connect(&worker, &QThread::finished, job, &QObject::deleteLater);
    worker.start();
    QSignalSpy loaded(job, &GenerationJob::modelLoaded);
    QSignalSpy ready(job, &GenerationJob::imagesReady);
    QSignalSpy progress(job, &GenerationJob::progress);
    const QString model = tinyModel();
    QMetaObject::invokeMethod(job, [job, model]() { job->loadModel(model, QString(), "cpu", "float32"); });
    QVERIFY(loaded.wait(120000));
    const gligen::Layout layout = smallLayout(3);
    QMetaObject::invokeMethod(job, [job, layout]() { job->generate(layout); });
    QVERIFY(ready.wait(120000));
    QCOMPARE(progress.count(), 3);
    worker.quit();
    worker.wait();
  }

  // Random seeds: each result shows the seed actually drawn, results suggest different file names
  // (prompt words + seed + time), and a cancelled run says "cancelled" on the preview.
  void studioShowsDrawnSeedsAndCancel() {
    GLIGEN_REQUIRE_FIXTURE(tinyModel().toStdString());
    MainWindow window(gligen::test::quiet_window());
    window.show();
    QSignalSpy ready(&window, &MainWindow::modelReady);
    QVERIFY(window.loadModel({tinyModel(), QString()}));
    QVERIFY(ready.wait(120000));
    QVERIFY(window.openExample(MainWindow::exampleResources().front()));
    LayoutDocument* doc = window.document();
    GenerationSettings s = doc->settings();
    s.steps = 2;
    s.width = 0;
    s.height = 0;
    doc->undoStack()->push(new ChangeSettings(doc, s, "small run"));
    window.generationPanel()->setSeedMode(SeedMode::Random);
    QSignalSpy finished(&window, &MainWindow::generationFinished);
    for (int k = 0; k < 2; ++k) {
      window.generate();
      QVERIFY(finished.wait(120000));
    }
    QCOMPARE(window.gallery()->results().size(), 2);
    const auto& a = window.gallery()->results()[0];
    const auto& b = window.gallery()->results()[1];
    QVERIFY(a.layout.seed && b.layout.seed);
    QVERIFY(*a.layout.seed != *b.layout.seed);
    // Newest first in the gallery; each item names its drawn seed.
    QCOMPARE(window.gallery()->item(0)->text(), QString("seed %1").arg(*b.layout.seed));
    QCOMPARE(window.gallery()->item(1)->text(), QString("seed %1").arg(*a.layout.seed));
    const QByteArray shots = qgetenv("GLIGEN_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(window.grab().save(QString::fromLocal8Bit(shots) + "/studio-results-selected.png"));
    const QString nameA = ResultsGallery::suggestedFileName(a), nameB = ResultsGallery::suggestedFileName(b);
    QVERIFY(nameA != nameB);
    QVERIFY2(nameA.contains(QString("_seed%1_").arg(*a.layout.seed)) && nameA.endsWith(".png"), qPrintable(nameA));
    const QString firstWord = QString::fromStdString(a.layout.prompt)
                                  .toLower()
                                  .split(QRegularExpression("[^a-z0-9]+"), Qt::SkipEmptyParts)
                                  .value(0);
    QVERIFY2(firstWord.isEmpty() || nameA.contains(firstWord) || firstWord == "a" || firstWord == "the",
             qPrintable(nameA));

    // Cancel a long run: the preview says so instead of a stale step count.
    s.steps = 200;
    doc->undoStack()->push(new ChangeSettings(doc, s, "long run"));
    window.generate();
    QTRY_VERIFY_WITH_TIMEOUT(window.livePreview()->caption().startsWith("step"), 120000);
    window.cancelGeneration();
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.last().at(0).toBool(), false);
    QCOMPARE(window.livePreview()->caption(), QString("cancelled"));
  }

  // The whole studio: load, generate from an example, the result lands in the gallery with its
  // layout, its PNG re-opens as the same layout, and clicking the result restores the layout.
  void studioGeneratesAndRestoresLayouts() {
    GLIGEN_REQUIRE_FIXTURE(tinyModel().toStdString());
    MainWindow window(gligen::test::quiet_window());
    window.show();
    QSignalSpy ready(&window, &MainWindow::modelReady);
    QVERIFY(window.loadModel({tinyModel(), QString()}));
    QVERIFY(ready.wait(120000));
    QVERIFY(window.modelLoaded());
    QVERIFY(window.openExample(MainWindow::exampleResources().front()));
    LayoutDocument* doc = window.document();
    QCOMPARE(doc->boxCount(), 4);
    GenerationSettings s = doc->settings();
    s.steps = 3;
    s.width = 0;  // the model's own (small) size
    s.height = 0;
    s.seed = 11;
    doc->undoStack()->push(new ChangeSettings(doc, s, "small run"));
    window.generationPanel()->setSeedMode(SeedMode::Increment);

    QSignalSpy finished(&window, &MainWindow::generationFinished);
    window.generate();
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QCOMPARE(window.gallery()->results().size(), 1);
    const GeneratedImage& result = window.gallery()->results()[0];
    QCOMPARE(result.layout.seed.value_or(0), std::uint64_t(11));
    QCOMPARE(result.layout.boxes.size(), std::size_t(4));
    QCOMPARE(QString::fromStdString(result.layout.boxes[0].phrase), QString("a green car"));
    QCOMPARE(doc->settings().seed.value_or(0), quint64(12));  // increment mode moved on

    // PNG with the layout inside, opened again as a layout.
    QTemporaryDir dir;
    const QString png = dir.filePath("result.png");
    window.gallery()->savePng(0, png);
    const auto text = gligen::read_png_text(png.toStdString());
    QVERIFY(text.count(gligen::kLayoutPngKey) == 1);
    doc->undoStack()->push(new ChangeSettings(doc, GenerationSettings{}, "clear"));
    QVERIFY(window.openLayoutFile(png));
    QCOMPARE(gligen::layout_to_json(doc->toLayout()), gligen::layout_to_json(result.layout));

    // Clicking the result in the gallery restores its layout after an edit.
    GenerationSettings edited = doc->settings();
    edited.prompt = "something else";
    doc->undoStack()->push(new ChangeSettings(doc, edited, "edit"));
    QListWidgetItem* item = window.gallery()->item(0);
    QTest::mouseClick(window.gallery()->viewport(), Qt::LeftButton, {},
                      window.gallery()->visualItemRect(item).center());
    QCOMPARE(gligen::layout_to_json(doc->toLayout()), gligen::layout_to_json(result.layout));
  }
};

QTEST_MAIN(TestGenerationJob)
#include "test_generation_job.moc"
