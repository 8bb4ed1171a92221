// The review panel on the fixtures' dataset: filters (status, label, live score threshold),
// keyboard review, caption edit, move, draw, delete, merge, undo/redo through the store, open as
// layout, statistics, and errors for a foreign file. With GLIGEN_REVIEW_SCREENSHOTS=DIR set it
// also saves screenshots of the panel there.
#include <QApplication>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>
#include <fstream>

#include "core/annotations/dataset_io.h"
#include "support/fixtures.h"
#include "ui/review_image_view.h"
#include "ui/review_panel.h"
#include "ui/review_stats.h"

using namespace gligen;
using namespace gligen::annotations;
using namespace gligen::ui;

Q_DECLARE_METATYPE(gligen::Layout)

namespace {

// The fixtures' four images, with detector-like scores and labels on some boxes.
std::unique_ptr<AnnotationStore> make_store(const QTemporaryDir& dir) {
  auto store = AnnotationStore::open_or_create(dir.filePath("review.sqlite").toStdString());
  ImportOptions o;
  o.image_root = test::fixture("dataset");
  import_dataset(*store, test::fixture("dataset/train_data.pth"), o);
  const double scores[] = {0.92, 0.35, 0.81, 0.18, 0.97, 0.66, 0.88, 0.74, 0.55, 0.42, 0.95, 0.61, 0.29};
  const char* labels[] = {"raccoon", "eye", "grass", "leaf", "raccoon", "nose", "car", "truck", "balloon", "bird",
                          "orange", "apple", "plum"};
  AnnotationEdit e{"change", "setup", {}, {}};
  int k = 0;
  store->for_each_image([&](const ImageRecord&, const std::vector<BoxAnnotation>& boxes) {
    for (const auto& b : boxes) {
      e.before.push_back(b);
      BoxAnnotation a = b;
      a.score = scores[k];
      a.label = labels[k];
      a.source = "grounding-dino";
      ++k;
      e.after.push_back(a);
    }
  });
  store->apply_edit(e);
  return store;
}

struct Fixture {
  QTemporaryDir dir;
  ReviewPanel panel;
  Fixture() {
    panel.setStore(make_store(dir));
    panel.resize(1180, 640);
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
    QCOMPARE(f.panel.listedImages().size(), size_t(4));
    QVERIFY(f.panel.currentImageId() != 0);
    f.panel.setLabelFilter("raccoon");
    QCOMPARE(f.panel.listedImages().size(), size_t(2));
    f.panel.setLabelFilter("");
    // The threshold hides low-scoring boxes live, and lists only images with a box above it.
    f.panel.showImage(*f.store().find_image("raccoon_public.png"));
    const auto boxes = f.boxes();
    QVERIFY(f.panel.imageView()->isBoxVisible(boxes[1].id));  // 0.35
    f.panel.setScoreThreshold(0.5);
    QVERIFY(!f.panel.imageView()->isBoxVisible(boxes[1].id));
    QVERIFY(f.panel.imageView()->isBoxVisible(boxes[0].id));  // 0.92
    f.panel.setScoreThreshold(0.96);
    QCOMPARE(f.panel.listedImages().size(), size_t(1));  // only the portrait has a 0.97 box
    f.panel.setScoreThreshold(0);
    f.panel.setStatusFilter(ReviewStatus::Rejected);
    QCOMPARE(f.panel.listedImages().size(), size_t(0));
    f.panel.setStatusFilter(std::nullopt);
    f.panel.setHasEdited(true);
    QCOMPARE(f.panel.listedImages().size(), size_t(0));
    f.panel.setHasEdited(false);
    f.panel.setOnlyUnreviewed(true);
    QCOMPARE(f.panel.listedImages().size(), size_t(4));
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
    QTest::keyClicks(edit, "a sleepy raccoon");  // plain letters type, they do not review
    QTest::keyClick(edit, Qt::Key_Return);
    const auto after = *f.store().annotation(id);
    QCOMPARE(after.caption, std::string("a sleepy raccoon"));
    QCOMPARE(int(after.status), int(ReviewStatus::Edited));
    QVERIFY(f.store().embedding(id)->stale);  // `dataset embed` will recompute it
    f.panel.undoStack()->undo();
    QCOMPARE(f.store().annotation(id)->caption, before);
    QVERIFY(!f.store().embedding(id)->stale);
  }

  void mouseMoveDrawDeleteMerge() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    f.panel.showImage(*f.store().find_image("street_public.png"));
    auto* view = f.panel.imageView();
    QWidget* vp = view->viewport();
    auto boxes = f.boxes();
    // Drag the truck 20 px (image pixels) to the left.
    const QPoint from = view->boxCentreInView(boxes[1].id);
    const QPoint to = view->imagePointInView(QPointF((boxes[1].box.x0 + boxes[1].box.x1) / 2 - 20,
                                                     (boxes[1].box.y0 + boxes[1].box.y1) / 2));
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, from);
    QTest::mouseMove(vp, (from + to) / 2);
    QTest::mouseMove(vp, to);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, to);
    const auto moved = *f.store().annotation(boxes[1].id);
    QVERIFY2(std::abs(moved.box.x0 - (boxes[1].box.x0 - 20)) < 2.0, qPrintable(QString::number(moved.box.x0)));
    QCOMPARE(int(moved.status), int(ReviewStatus::Edited));
    f.panel.undoStack()->undo();
    QCOMPARE(f.store().annotation(boxes[1].id)->box.x0, boxes[1].box.x0);

    // Draw a box on empty image (bottom right corner of the street).
    const QPoint a = view->imagePointInView(QPointF(100, 76)), b = view->imagePointInView(QPointF(126, 79.5));
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, view->imagePointInView(QPointF(100, 2)));
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, view->imagePointInView(QPointF(100, 2)));  // a click: no box
    QCOMPARE(f.boxes().size(), size_t(4));
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, a);
    QTest::mouseMove(vp, b);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, b);
    QCOMPARE(f.boxes().size(), size_t(5));
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
    QCOMPARE(f.boxes().size(), size_t(4));
    f.panel.undoStack()->undo();
    QCOMPARE(f.boxes().size(), size_t(5));

    // Merge the car and the truck (Ctrl+click the second).
    boxes = f.boxes();
    view->selectBox(boxes[0].id);
    QTest::mouseClick(vp, Qt::LeftButton, Qt::ControlModifier, view->boxCentreInView(boxes[1].id));
    QCOMPARE(view->selectedIds().size(), size_t(2));
    f.key(Qt::Key_M);
    const auto merged = f.boxes();
    QCOMPARE(merged.size(), size_t(4));
    const auto& m = merged.back();
    QCOMPARE(m.box.x0, boxes[0].box.x0);
    QCOMPARE(m.box.x1, boxes[1].box.x1);
    QCOMPARE(m.caption, boxes[0].caption);  // 0.88 beats 0.74
    f.panel.undoStack()->undo();
    QCOMPARE(f.boxes().size(), size_t(5));
    QCOMPARE(*f.store().annotation(boxes[1].id), boxes[1]);
  }

  void openAsLayout() {
    qRegisterMetaType<gligen::Layout>();
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    f.panel.showImage(*f.store().find_image("street_public.png"));
    QSignalSpy spy(&f.panel, &ReviewPanel::openAsLayoutRequested);
    f.key(Qt::Key_L);
    QCOMPARE(spy.count(), 0);  // nothing accepted yet
    auto boxes = f.boxes();
    f.panel.imageView()->selectBox(boxes[0].id);
    f.key(Qt::Key_A);
    f.key(Qt::Key_A);
    f.key(Qt::Key_R);
    f.key(Qt::Key_L);
    QCOMPARE(spy.count(), 1);
    const auto layout = spy.at(0).at(0).value<gligen::Layout>();
    QCOMPARE(layout.prompt, std::string("a green car parked next to a blue truck under a red balloon"));
    QCOMPARE(layout.boxes.size(), size_t(2));
    QCOMPARE(layout.boxes[0].phrase, std::string("a green car"));
    QCOMPARE(layout.boxes[0].x0, float(6.4 / 128));
    QCOMPARE(layout.boxes[0].y1, float(72.0 / 80));
    QCOMPARE(layout.boxes[1].phrase, std::string("a blue truck"));
    save_screenshot(f.panel, "review-panel.png");
  }

  void statistics() {
    Fixture f;
    f.panel.showStatistics();
    const auto& s = f.panel.statsWidget()->shownStats();
    QCOMPARE(s.images, int64_t(4));
    QCOMPARE(s.annotations, int64_t(13));
    QCOMPARE(s.by_status.at(ReviewStatus::Unreviewed), int64_t(13));
    const auto& h = f.panel.statsWidget()->shownHistogram();
    QCOMPARE(std::accumulate(h.begin(), h.end(), int64_t(0)), int64_t(13));
    QCOMPARE(h[19], int64_t(2));  // 0.95 and 0.97
    f.panel.showImage(*f.store().find_image("raccoon_public.png"));
    f.panel.imageView()->selectNextBox();
    f.panel.rejectSelection();  // statistics follow edits while shown
    QCOMPARE(f.panel.statsWidget()->shownStats().by_status.at(ReviewStatus::Rejected), int64_t(1));
    save_screenshot(f.panel, "review-panel-statistics.png");
  }

  void screenshotsOfAReviewInProgress() {
    Fixture f;
    QVERIFY(QTest::qWaitForWindowActive(&f.panel));
    f.panel.showImage(*f.store().find_image("fruit_public.png"));
    f.key(Qt::Key_Tab);
    f.key(Qt::Key_A);
    f.key(Qt::Key_R);
    f.panel.setScoreThreshold(0.3);
    QVERIFY(!f.panel.imageView()->isBoxVisible(f.boxes()[2].id));  // the 0.29 plum is hidden
    f.panel.imageView()->selectBox(f.boxes()[1].id);
    save_screenshot(f.panel, "review-panel-threshold.png");
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
