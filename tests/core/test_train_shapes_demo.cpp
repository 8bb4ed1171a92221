// The shipped shapes demo model (resources/models/shapes-demo, trained by
// trainer/recipes/shapes-demo.sh): it is the default model, it loads, it is small, it names its own
// default beta, and on the held-out layouts written beside it (<model>-heldout.json, never trained
// on) it puts at least 90% of the boxes' objects in their boxes (the target): on a small
// prefix of the file in the quick suite (well under a minute on 2 cores), and on at least 200 boxes
// (the measure) in the slow one, where without the boxes the objects still appear but
// mostly elsewhere.
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "core/io/cpu_runtime.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/png_io.h"
#include "core/pipeline/model_folder.h"
#include "core/train/shapes_validation.h"
#include "support/fixtures.h"
#include "support/test_main.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;

namespace {
constexpr int kAllLayouts = 1 << 30;  // read_shapes_heldout's count: every layout of the file
constexpr int kQuickBoxes = 40;       // the quick check: the first layouts holding this many boxes
constexpr int kMeasuredBoxes = 200;   // the measure of the target: at least 200 boxes
constexpr int kControlLayouts = 32;
constexpr double kTargetHitRate = 0.9;  // the target for the shipped model
constexpr std::int64_t kMaxModelBytes = 25ll << 20;

// The shortest prefix of the file's layouts with at least `min_boxes` boxes (all of them when the
// file holds fewer).
train::ShapesHeldoutSet first_layouts_with(const std::string& path, int min_boxes) {
  auto set = train::read_shapes_heldout(path, kAllLayouts);
  std::size_t n = 0;
  int boxes = 0;
  while (n < set.layouts.size() && boxes < min_boxes) boxes += static_cast<int>(set.layouts[n++].active_boxes().size());
  set.layouts.resize(n);
  set.boxes = boxes;
  return set;
}

// Each layout as the file gives it (its size, steps and guidance) with the model's own beta.
train::ShapesValidationOptions as_the_file_says() {
  train::ShapesValidationOptions o;
  o.size = 0;
  o.steps = 0;
  o.beta = -1;
  return o;
}

train::ShapesValidationResult run_layouts(GligenPipeline& pipe, const train::ShapesHeldoutSet& set) {
  QElapsedTimer timer;
  timer.start();
  auto hits = train::run_shapes_validation(pipe, set, as_the_file_says());
  const double seconds = timer.elapsed() / 1000.0;
  qInfo("%d layouts, %d boxes: %d hit (%.1f%%), %d with the right shape too; %.1f s (%.2f s per image)", hits.layouts,
        hits.boxes, hits.found, 100.0 * hits.hit_rate, hits.found_with_shape, seconds, seconds / hits.layouts);
  return hits;
}
}  // namespace

class TestTrainShapesDemo : public QObject {
  Q_OBJECT
  std::string model_;

 private Q_SLOTS:
  void initTestCase() {
    qunsetenv("GLIGEN_DEFAULT_MODEL");
    io::configure_cpu_runtime();  // the cores an executable would use (LibTorch's own default is 1 here)
    model_ = default_model_dir();
    QVERIFY2(!model_.empty(),
             "no shipped model: resources/models/shapes-demo is missing (trainer/recipes/shapes-demo.sh)");
    QVERIFY2(fs::exists(model_ + "-heldout.json"), (model_ + "-heldout.json is missing").c_str());
  }

  void theShippedModelIsSmallAndLoadable() {
    const auto report = inspect_model_folder(model_);
    QVERIFY2(report.ok(), report.describe().c_str());
    QVERIFY(report.grounded);
    QVERIFY2(report.default_beta.has_value(), "the shapes model must name its own default beta (trained with beta 1)");
    std::int64_t bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(model_))
      if (e.is_regular_file()) bytes += static_cast<std::int64_t>(e.file_size());
    qInfo("model %s: %.1f MB", model_.c_str(), bytes / 1048576.0);
    QVERIFY2(bytes <= kMaxModelBytes, qPrintable(QString("the model is %1 bytes").arg(bytes)));
  }

  // `generate` without --model uses it, at its own size.
  void generateWithoutAModelUsesIt() {
    QTemporaryDir dir;
    const QString out = dir.filePath("red-circle.png");
    const auto r = test::run_trainer({"generate", "--phrase", "a red circle", "--box", "0.1,0.1,0.5,0.5", "--seed", "1",
                                      "--steps", "10", "--out", out},
                                     120000);
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("the model's default"), qPrintable(r.err));
    QCOMPARE(read_image_rgb(out.toStdString()).width, inspect_model_folder(model_).default_size);
  }

  void itPutsTheShapesInTheirBoxesOnASmallSet() {
    auto pipe = GligenPipeline::load(model_);
    const auto set = first_layouts_with(model_ + "-heldout.json", kQuickBoxes);
    QVERIFY(set.boxes > 0);
    const auto hits = run_layouts(*pipe, set);
    QCOMPARE(hits.boxes, set.boxes);
    QVERIFY2(hits.hit_rate >= kTargetHitRate, qPrintable(QString("hit rate %1").arg(hits.hit_rate)));
  }

  void itPutsTheShapesInTheirBoxes() {
    GLIGEN_SLOW_TEST();
    auto pipe = GligenPipeline::load(model_);
    const auto set = first_layouts_with(model_ + "-heldout.json", kMeasuredBoxes);
    QVERIFY2(set.boxes >= kMeasuredBoxes,
             qPrintable(QString("the held-out file has %1 boxes; the target is measured on at least %2")
                            .arg(set.boxes)
                            .arg(kMeasuredBoxes)));
    const auto hits = run_layouts(*pipe, set);
    QCOMPARE(hits.boxes, set.boxes);
    QVERIFY2(hits.hit_rate >= kTargetHitRate, qPrintable(QString("hit rate %1").arg(hits.hit_rate)));

    // Without the boxes: the phrases' objects still come out, but where the noise puts them.
    const auto control_set = train::read_shapes_heldout(model_ + "-heldout.json", kControlLayouts);
    const auto control = train::run_shapes_control(*pipe, control_set, as_the_file_says());
    qInfo("no boxes: %d of %d objects appeared (%.1f%%), %d in their box anyway (%.1f%%)", control.appeared,
          control.phrases, 100.0 * control.appeared_rate, control.in_box, 100.0 * control.in_box_rate);
    QVERIFY2(control.appeared_rate >= 0.75, qPrintable(QString("appeared %1").arg(control.appeared_rate)));
    QVERIFY2(control.in_box_rate <= 0.5 * hits.hit_rate, qPrintable(QString("in box %1").arg(control.in_box_rate)));
  }
};

GLIGEN_TEST_GUILESS_MAIN(TestTrainShapesDemo)
#include "test_train_shapes_demo.moc"
