// The review panel on the fixtures' dataset: filters (status, label, live score threshold),
// keyboard review, caption edit, move, draw, delete, merge, undo/redo through the store, open as
// layout, statistics, a make-shapes-dataset store, and errors for a foreign file. With
// GLIGEN_REVIEW_SCREENSHOTS=DIR set it also saves screenshots of the panel there.
#include <QApplication>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "core/annotations/dataset_io.h"
#include "core/shapes/shapes_dataset.h"
#include "support/fixtures.h"
#include "ui/review/review_image_view.h"
#include "ui/review/review_panel.h"
#include "ui/review/review_stats.h"

using namespace gligen;
using namespace gligen::annotations;
using namespace gligen::ui;

namespace {

// A detector-like score for the k-th box of the dataset: spread over (0.1, 0.99), distinct.
double score_of(int k) {
  const double golden = 0.6180339887498949;
  const double f = k * golden + 0.31;
  return 0.1 + 0.89 * (f - std::floor(f));
}

// A detector-like label: the last word of the box caption.
std::string label_of(const std::string& caption) { return caption.substr(caption.rfind(' ') + 1); }

// The fixture's seed dataset, every box given score_of(k) and label_of(caption), in store order.
std::unique_ptr<AnnotationStore> make_store(const QTemporaryDir& dir) {
  auto store = AnnotationStore::open_or_create(dir.filePath("review.sqlite").toStdString());
  ImportOptions o;
  o.image_root = test::fixture("dataset");
  import_dataset(*store, test::fixture("dataset/train_data.pth"), o);
  AnnotationEdit e{"change", "setup", {}, {}};
  int k = 0;
  store->for_each_image([&](const ImageRecord&, const std::vector<BoxAnnotation>& boxes) {
    for (const auto& b : boxes) {
      e.before.push_back(b);
      BoxAnnotation a = b;
      a.score = score_of(k++);
      a.label = label_of(b.caption);
      a.source = "grounding-dino";
      e.after.push_back(a);
    }
  });
  store->apply_edit(e);
  return store;
}

// The image of the dataset with the most boxes (the first of them on a tie).
int64_t busiest_image(AnnotationStore& store) {
  int64_t best = 0;
  size_t most = 0;
  store.for_each_image([&](const ImageRecord& r, const std::vector<BoxAnnotation>& boxes) {
    if (boxes.size() > most) most = boxes.size(), best = r.id;
  });
  return best;
}

struct Fixture {
  QTemporaryDir dir;
  ReviewPanel panel;
  Fixture() {
    panel.setStore(make_store(dir));
    panel.resize(1240, 740);  // the studio opens review in a window of this size
    panel.show();
    panel.activateWindow();
  }
  AnnotationStore& store() { return *panel.store(); }
  std::vector<BoxAnnotation> boxes() { return store().annotations_of(panel.currentImageId()); }
  void key(int k, Qt::KeyboardModifiers m = Qt::NoModifier) {
    QTest::keyClick(panel.imageView(), static_cast<Qt::Key>(k), m);
  }
};

void save_screenshot(QWidget& w, const char* name) {
  const QByteArray dir = qgetenv("GLIGEN_REVIEW_SCREENSHOTS");
  if (dir.isEmpty()) return;
  QApplication::processEvents();
  QVERIFY(w.grab().save(QString::fromUtf8(dir) + QLatin1Char('/') + QLatin1String(name)));
}

}  // namespace

class TestReviewPanel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/train_data.pth")); }

  void listsAndFilters() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowExposed(&f.panel));
    const size_t images = static_cast<size_t>(f.store().image_count());
    QCOMPARE(f.panel.listedImages().size(), images);
    QVERIFY(f.panel.currentImageId() != 0);
    // Label filter: the images with a box whose label holds the first box's label.
    std::string label;
    size_t with_label = 0;
    double best_score = 0;
    std::vector<double> image_max;
    f.store().for_each_image([&](const ImageRecord&, const std::vector<BoxAnnotation>& boxes) {
      if (label.empty() && !boxes.empty()) label = boxes[0].label;
      bool has = false;
      double m = 0;
      for (const auto& b : boxes) {
        has = has || b.label.find(label) != std::string::npos;
        m = std::max(m, *b.score);
      }
      with_label += has ? 1 : 0;
      image_max.push_back(m);
      best_score = std::max(best_score, m);
    });
    f.panel.setLabelFilter(QString::fromStdString(label));
    QCOMPARE(f.panel.listedImages().size(), with_label);
    f.panel.setLabelFilter("");
    // The threshold hides low-scoring boxes live, and lists only images with a box above it.
    f.panel.showImage(busiest_image(f.store()));
    const auto boxes = f.boxes();
    QVERIFY(boxes.size() >= 2);
    auto low = boxes[0], high = boxes[0];
    for (const auto& b : boxes) {
      if (*b.score < *low.score) low = b;
      if (*b.score > *high.score) high = b;
    }
    QVERIFY(f.panel.imageView()->isBoxVisible(low.id));
    f.panel.setScoreThreshold((*low.score + *high.score) / 2);
    QVERIFY(!f.panel.imageView()->isBoxVisible(low.id));
    QVERIFY(f.panel.imageView()->isBoxVisible(high.id));
    // Just under the best score: only the images holding a box that high are listed.
    const double t = best_score - 1e-3;
    f.panel.setScoreThreshold(t);
    QCOMPARE(f.panel.listedImages().size(),
             size_t(std::count_if(image_max.begin(), image_max.end(), [&](double m) { return m >= t; })));
    f.panel.setScoreThreshold(0);
    f.panel.setStatusFilter(ReviewStatus::Rejected);
    QCOMPARE(f.panel.listedImages().size(), size_t(0));
    f.panel.setStatusFilter(std::nullopt);
    f.panel.setHasEdited(true);
    QCOMPARE(f.panel.listedImages().size(), size_t(0));
    f.panel.setHasEdited(false);
    f.panel.setOnlyUnreviewed(true);
    QCOMPARE(f.panel.listedImages().size(), images);
  }

  void keyboardReview() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    const int64_t first = f.panel.currentImageId();
    f.key(Qt::Key_Tab);
    const auto sel = f.panel.imageView()->selectedIds();
    QCOMPARE(sel.size(), size_t(1));
    f.key(Qt::Key_A);  // accept, then the next box is selected
    QCOMPARE(int(f.store().annotation(sel[0])->status), int(ReviewStatus::Accepted));
    const auto next = f.panel.imageView()->selectedIds();
    QCOMPARE(next.size(), size_t(1));
    QVERIFY(next[0] != sel[0]);
    f.key(Qt::Key_R);
    QCOMPARE(int(f.store().annotation(next[0])->status), int(ReviewStatus::Rejected));
    f.key(Qt::Key_A, Qt::ShiftModifier);  // the whole image
    for (const auto& b : f.boxes()) QCOMPARE(int(b.status), int(ReviewStatus::Accepted));
    f.key(Qt::Key_N);
    QVERIFY(f.panel.currentImageId() != first);
    f.key(Qt::Key_P);
    QCOMPARE(f.panel.currentImageId(), first);
    // Undo walks back through the store: image accept, reject, accept.
    QCOMPARE(f.panel.undoStack()->count(), 3);
    f.key(Qt::Key_Z, Qt::ControlModifier);
    f.key(Qt::Key_Z, Qt::ControlModifier);
    QCOMPARE(int(f.store().annotation(next[0])->status), int(ReviewStatus::Unreviewed));
    QCOMPARE(int(f.store().annotation(sel[0])->status), int(ReviewStatus::Accepted));
    f.key(Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
    QCOMPARE(int(f.store().annotation(next[0])->status), int(ReviewStatus::Rejected));
  }

  void captionEditAndUndo() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    f.key(Qt::Key_Tab);
    const int64_t id = f.panel.imageView()->selectedIds().at(0);
    const std::string before = f.store().annotation(id)->caption;
    f.key(Qt::Key_E);
    auto* edit = qobject_cast<QLineEdit*>(QApplication::focusWidget());
    QVERIFY(edit != nullptr);
    edit->clear();
    QTest::keyClicks(edit, "a sleepy animal");  // plain letters type, they do not review
    QTest::keyClick(edit, Qt::Key_Return);
    const auto after = *f.store().annotation(id);
    QCOMPARE(after.caption, std::string("a sleepy animal"));
    QCOMPARE(int(after.status), int(ReviewStatus::Edited));
    QVERIFY(f.store().embedding(id)->stale);  // `dataset embed` will recompute it
    f.panel.undoStack()->undo();
    QCOMPARE(f.store().annotation(id)->caption, before);
    QVERIFY(!f.store().embedding(id)->stale);
  }

  void mouseMoveDrawDeleteMerge() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    const int64_t image = busiest_image(f.store());
    f.panel.showImage(image);
    const auto record = *f.store().image(image);
    auto* view = f.panel.imageView();
    QWidget* vp = view->viewport();
    auto boxes = f.boxes();
    const size_t n = boxes.size();
    QVERIFY(n >= 2);
    // Drag the second box left by up to 20 image pixels (less when it sits near the left edge).
    const double dx = std::min(20.0, boxes[1].box.x0);
    QVERIFY(dx >= 4);
    const QPoint from = view->boxCentreInView(boxes[1].id);
    const QPoint to = view->imagePointInView(
        QPointF((boxes[1].box.x0 + boxes[1].box.x1) / 2 - dx, (boxes[1].box.y0 + boxes[1].box.y1) / 2));
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, from);
    QTest::mouseMove(vp, (from + to) / 2);
    QTest::mouseMove(vp, to);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, to);
    const auto moved = *f.store().annotation(boxes[1].id);
    QVERIFY2(std::abs(moved.box.x0 - (boxes[1].box.x0 - dx)) < 2.0, qPrintable(QString::number(moved.box.x0)));
    QCOMPARE(int(moved.status), int(ReviewStatus::Edited));
    f.panel.undoStack()->undo();
    QCOMPARE(f.store().annotation(boxes[1].id)->box.x0, boxes[1].box.x0);

    // Draw a box where the image has none: the first free spot of a coarse grid.
    const double w = record.width, h = record.height;
    auto inside_any = [&](double x, double y) {
      for (const auto& b : boxes)
        if (x >= b.box.x0 - 2 && x <= b.box.x1 + 2 && y >= b.box.y0 - 2 && y <= b.box.y1 + 2) return true;
      return false;
    };
    QPointF start(-1, -1);
    for (int gy = 9; gy >= 0 && start.x() < 0; --gy)
      for (int gx = 9; gx >= 0 && start.x() < 0; --gx) {
        const double x = w * (0.05 + 0.07 * gx), y = h * (0.05 + 0.07 * gy);
        if (!inside_any(x, y) && !inside_any(x + 0.2 * w, y + 0.2 * h) && !inside_any(x + 0.1 * w, y + 0.1 * h))
          start = QPointF(x, y);
      }
    QVERIFY2(start.x() >= 0, "the fixture image has no free area to draw a box in");
    const QPoint a = view->imagePointInView(start), b = view->imagePointInView(start + QPointF(0.2 * w, 0.2 * h));
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, a);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, a);  // a click: no box
    QCOMPARE(f.boxes().size(), n);
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, a);
    QTest::mouseMove(vp, b);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, b);
    QCOMPARE(f.boxes().size(), n + 1);
    QCOMPARE(f.boxes().back().source, std::string("user"));
    QApplication::processEvents();
    // Drawing leaves the caption editor focused: name the new box.
    if (auto* edit = qobject_cast<QLineEdit*>(QApplication::focusWidget())) {
      QTest::keyClicks(edit, "a lamp");
      QTest::keyClick(edit, Qt::Key_Return);
    }
    QCOMPARE(f.boxes().back().caption, std::string("a lamp"));
    view->setFocus();
    f.key(Qt::Key_Delete);
    QCOMPARE(f.boxes().size(), n);
    f.panel.undoStack()->undo();
    QCOMPARE(f.boxes().size(), n + 1);

    // Merge the first two boxes (Ctrl+click the second): their union, with the better-scored caption.
    boxes = f.boxes();
    view->selectBox(boxes[0].id);
    QTest::mouseClick(vp, Qt::LeftButton, Qt::ControlModifier, view->boxCentreInView(boxes[1].id));
    QCOMPARE(view->selectedIds().size(), size_t(2));
    f.key(Qt::Key_M);
    const auto merged = f.boxes();
    QCOMPARE(merged.size(), n);
    const auto& m = merged.back();
    QCOMPARE(m.box.x0, std::min(boxes[0].box.x0, boxes[1].box.x0));
    QCOMPARE(m.box.x1, std::max(boxes[0].box.x1, boxes[1].box.x1));
    QCOMPARE(m.caption, *boxes[0].score >= *boxes[1].score ? boxes[0].caption : boxes[1].caption);
    f.panel.undoStack()->undo();
    QCOMPARE(f.boxes().size(), n + 1);
    QCOMPARE(*f.store().annotation(boxes[1].id), boxes[1]);
  }

  void openAsLayout() {
    qRegisterMetaType<gligen::Layout>();
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    const int64_t image = busiest_image(f.store());
    f.panel.showImage(image);
    const auto record = *f.store().image(image);
    QSignalSpy spy(&f.panel, &ReviewPanel::openAsLayoutRequested);
    f.key(Qt::Key_L);
    QCOMPARE(spy.count(), 0);  // nothing accepted yet
    auto boxes = f.boxes();
    QVERIFY(boxes.size() >= 3);
    f.panel.imageView()->selectBox(boxes[0].id);
    f.key(Qt::Key_A);
    f.key(Qt::Key_A);
    f.key(Qt::Key_R);
    f.key(Qt::Key_L);
    QCOMPARE(spy.count(), 1);
    const auto layout = spy.at(0).at(0).value<gligen::Layout>();
    const auto captions = f.store().image_captions(image);
    QCOMPARE(layout.prompt, captions.empty() ? std::string() : captions.front());
    QVERIFY2(QFileInfo(QString::fromStdString(layout.inpaint_image)).isFile(),
             layout.inpaint_image.c_str());  // the photo
    QCOMPARE(QFileInfo(QString::fromStdString(layout.inpaint_image)).fileName(),
             QFileInfo(QString::fromStdString(record.path)).fileName());
    QCOMPARE(layout.boxes.size(), size_t(2));  // the two accepted boxes, in order, normalised
    for (size_t i = 0; i < 2; ++i) {
      QCOMPARE(layout.boxes[i].phrase, boxes[i].caption);
      QCOMPARE(layout.boxes[i].x0, float(boxes[i].box.x0 / record.width));
      QCOMPARE(layout.boxes[i].y1, float(boxes[i].box.y1 / record.height));
    }
    save_screenshot(f.panel, "review-panel.png");
  }

  void statistics() {
    Fixture f;
    f.panel.showStatistics();
    const auto& s = f.panel.statsWidget()->shownStats();
    const int64_t boxes = f.store().annotation_count();
    QCOMPARE(s.images, f.store().image_count());
    QCOMPARE(s.annotations, boxes);
    QCOMPARE(s.by_status.at(ReviewStatus::Unreviewed), boxes);
    const auto& h = f.panel.statsWidget()->shownHistogram();
    QCOMPARE(std::accumulate(h.begin(), h.end(), int64_t(0)), boxes);  // every box is scored
    const double bins = static_cast<double>(h.size());
    int64_t top = 0;  // the last bucket holds the scores from (bins - 1) / bins up
    for (int k = 0; k < boxes; ++k) top += score_of(k) * bins >= bins - 1 ? 1 : 0;
    QCOMPARE(h[h.size() - 1], top);
    f.panel.showImage(busiest_image(f.store()));
    f.panel.imageView()->selectNextBox();
    f.panel.rejectSelection();  // statistics follow edits while shown
    QCOMPARE(f.panel.statsWidget()->shownStats().by_status.at(ReviewStatus::Rejected), int64_t(1));
    save_screenshot(f.panel, "review-panel-statistics.png");
  }

  // An edited caption leaves a stale embedding: the Statistics tab says so and re-embeds it with
  // the open model's text encoder, on a worker thread, without blocking the panel.
  void statisticsReembedEditedCaptions() {
    const std::string model = test::fixture("tiny-gligen");
    GLIGEN_REQUIRE_FIXTURE(model);
    Fixture f;
    f.panel.showImage(busiest_image(f.store()));
    f.panel.imageView()->selectBox(f.boxes()[0].id);
    f.panel.setSelectedCaption("a freshly edited caption");
    f.panel.showStatistics();
    QCOMPARE(f.panel.statsWidget()->shownStats().stale_embeddings, int64_t(1));
    QPushButton* button = f.panel.statsWidget()->reembedButton();
    QVERIFY(button->isVisibleTo(&f.panel));
    QCOMPARE(button->text(), QString("Re-embed 1 caption"));
    save_screenshot(f.panel, "review-panel-reembed.png");
    f.panel.setTextEncoderModel(QString::fromStdString(model));
    QSignalSpy done(&f.panel, &ReviewPanel::captionsEmbedded);
    button->click();
    QVERIFY(f.panel.embedding());
    QVERIFY(done.wait(120000));
    QCOMPARE(done.at(0).at(0).toLongLong(), qint64(1));
    QCOMPARE(done.at(0).at(1).toLongLong(), qint64(0));
    QTRY_COMPARE(f.panel.statsWidget()->shownStats().stale_embeddings, int64_t(0));
    QVERIFY(!button->isVisibleTo(&f.panel));
    const auto e = f.store().embedding(f.boxes()[0].id);
    QVERIFY(e && !e->stale && e->caption == "a freshly edited caption");
  }

  // A dataset without detector scores explains its empty histogram instead of showing one.
  void unscoredDatasetExplainsTheEmptyHistogram() {
    QTemporaryDir dir;
    ReviewPanel panel;
    auto store = AnnotationStore::open_or_create(dir.filePath("plain.sqlite").toStdString());
    ImportOptions o;
    o.image_root = test::fixture("dataset");
    import_dataset(*store, test::fixture("dataset/train_data.pth"), o);
    panel.setStore(std::move(store));
    panel.resize(1180, 640);
    panel.show();
    panel.showStatistics();
    QVERIFY(panel.statsWidget()->histogramNote()->isVisibleTo(&panel));
    QVERIFY(panel.statsWidget()->histogramNote()->text().contains("No box has a detector score"));
    // ... and the score filter says it has nothing to act on.
    QSlider* slider = panel.findChild<QSlider*>();
    QVERIFY(slider && !slider->isEnabled());
    QVERIFY(slider->toolTip().contains("No box of this dataset has a detector score"));
  }

  void screenshotsOfAReviewInProgress() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    f.panel.showImage(busiest_image(f.store()));
    f.key(Qt::Key_Tab);
    f.key(Qt::Key_A);
    f.key(Qt::Key_R);
    // A threshold just above the image's lowest score hides that box.
    auto lowest = f.boxes()[0];
    for (const auto& b : f.boxes())
      if (*b.score < *lowest.score) lowest = b;
    f.panel.setScoreThreshold(*lowest.score + 1e-3);
    QVERIFY(!f.panel.imageView()->isBoxVisible(lowest.id));
    f.panel.imageView()->selectBox(f.boxes()[1].id);
    save_screenshot(f.panel, "review-panel-threshold.png");
  }

  void shapesDatasetOpensForReview() {
    // make-shapes-dataset's store: listed, its boxes shown, and an image opens as its layout
    // (every box is accepted, so the layout is the scene: caption, phrases, tight boxes).
    qRegisterMetaType<gligen::Layout>();
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen/text_encoder"));
    QTemporaryDir dir;
    shapes::ShapesDatasetOptions o;
    o.out_dir = dir.filePath("shapes").toStdString();
    o.count = 5;
    o.seed = 4;
    o.text_encoder = test::fixture("tiny-gligen");
    shapes::make_shapes_dataset(o);
    ReviewPanel panel;
    QString error;
    QVERIFY2(panel.openDataset(QString::fromStdString(shapes::shapes_db_path(o.out_dir)), &error), qPrintable(error));
    panel.resize(1240, 740);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QCOMPARE(panel.listedImages().size(), size_t(5));
    const shapes::ShapesScene scene = shapes::draw_shapes_scene(o.drawing, o.seed, 2);
    const int64_t id = *panel.store()->find_image(shapes::shapes_image_name(2));
    panel.showImage(id);
    QCOMPARE(panel.currentImageId(), id);
    const auto boxes = panel.store()->annotations_of(id);
    QCOMPARE(boxes.size(), scene.shapes.size());
    for (const auto& b : boxes) QVERIFY(panel.imageView()->isBoxVisible(b.id));
    QSignalSpy spy(&panel, &ReviewPanel::openAsLayoutRequested);
    panel.openAsLayout();
    QCOMPARE(spy.count(), 1);
    const auto layout = spy.at(0).at(0).value<gligen::Layout>();
    QCOMPARE(layout.prompt, scene.caption);
    QVERIFY(QFileInfo(QString::fromStdString(layout.inpaint_image)).isFile());
    QCOMPARE(layout.boxes.size(), scene.shapes.size());
    for (size_t i = 0; i < layout.boxes.size(); ++i) {
      QCOMPARE(layout.boxes[i].phrase, scene.shapes[i].phrase);
      QCOMPARE(layout.boxes[i].x0 * o.drawing.size, float(scene.shapes[i].box[0]));
      QCOMPARE(layout.boxes[i].y1 * o.drawing.size, float(scene.shapes[i].box[3]));
    }
    // The label filter finds shapes by name ("red circle", ...).
    const std::string label = boxes[0].label;
    panel.setLabelFilter(QString::fromStdString(label));
    QVERIFY(!panel.listedImages().empty());
    for (const int64_t listed : panel.listedImages()) {
      const auto of = panel.store()->annotations_of(listed);
      QVERIFY(std::any_of(of.begin(), of.end(), [&](const BoxAnnotation& b) { return b.label == label; }));
    }
  }

  void foreignFileIsRefusedClearly() {
    QTemporaryDir dir;
    const QString path = dir.filePath("notes.sqlite");
    std::ofstream(path.toStdString()) << "not a database";
    ReviewPanel panel;
    QSignalSpy messages(&panel, &ReviewPanel::message);
    QString error;
    QVERIFY(!panel.openDataset(path, &error));
    QVERIFY2(error.contains("not an SQLite file"), qPrintable(error));
    QCOMPARE(messages.count(), 1);
    QVERIFY(panel.store() == nullptr);
  }
};

QTEST_MAIN(TestReviewPanel)
#include "test_review_panel.moc"
