// LayoutCanvas: mouse and keyboard gestures become the right undo commands, snapping to the
// 8-pixel latent grid, and the canvas items follow the document (undo moves them back).
#include <QApplication>
#include <QMouseEvent>
#include <QSignalSpy>
#include <QLineEdit>
#include <QTest>
#include <QVBoxLayout>
#include <QUndoStack>

#include "ui/commands/add_boxes.h"
#include "ui/studio/layout_canvas.h"
#include "ui/studio/layout_document.h"
#include "ui/commands/change_settings.h"

using namespace gligen::ui;

namespace {

constexpr double kImage = 512.0;

// Canvas of 512x512 pixels in a 600x600 view.
struct Fixture {
  LayoutDocument doc;
  LayoutCanvas canvas{&doc};
  Fixture() {
    GenerationSettings s;
    s.width = 512;
    s.height = 512;
    doc.setSettings(s);
    canvas.resize(600, 600);
    canvas.show();
    QVERIFY(QTest::qWaitForWindowExposed(&canvas));
    canvas.fitToView();
  }
  QPoint at(QPointF scenePixels) const { return canvas.mapFromScene(scenePixels); }
  void send(QEvent::Type type, QPointF scenePixels, Qt::MouseButtons buttons, Qt::KeyboardModifiers mods = {}) {
    QWidget* vp = canvas.viewport();
    const QPointF pos = at(scenePixels);
    QMouseEvent e(type, pos, vp->mapToGlobal(pos), Qt::LeftButton, buttons, mods);
    QApplication::sendEvent(vp, &e);
  }
  // Press at `from`, move through `steps` intermediate points to `to`, release.
  void drag(QPointF from, QPointF to, Qt::KeyboardModifiers mods = {}, int steps = 5) {
    send(QEvent::MouseButtonPress, from, Qt::LeftButton, mods);
    for (int i = 1; i <= steps; ++i)
      send(QEvent::MouseMove, from + (to - from) * (double(i) / steps), Qt::LeftButton, mods);
    send(QEvent::MouseButtonRelease, to, Qt::NoButton, mods);
  }
  void click(QPointF p, Qt::KeyboardModifiers mods = {}) {
    send(QEvent::MouseButtonPress, p, Qt::LeftButton, mods);
    send(QEvent::MouseButtonRelease, p, Qt::NoButton, mods);
  }
  int addBox(QRectF pixels, const QString& phrase = "a box") {
    LayoutBox b;
    b.id = doc.allocateBoxId();
    b.phrase = phrase;
    b.rect = QRectF(pixels.x() / kImage, pixels.y() / kImage, pixels.width() / kImage, pixels.height() / kImage);
    b.colour = doc.colourForNewBox();
    doc.undoStack()->push(new AddBoxes(&doc, {b}));
    doc.undoStack()->clear();
    doc.setSelectedIds({});
    return b.id;
  }
  QRectF pixels(int id) const {
    const QRectF r = doc.boxById(id)->rect;
    return QRectF(r.x() * kImage, r.y() * kImage, r.width() * kImage, r.height() * kImage);
  }
};

bool near(const QRectF& a, const QRectF& b, double tol) {
  return std::abs(a.left() - b.left()) <= tol && std::abs(a.top() - b.top()) <= tol &&
         std::abs(a.right() - b.right()) <= tol && std::abs(a.bottom() - b.bottom()) <= tol;
}

}  // namespace

#define QCOMPARE_RECT(got, want, tol) \
  QVERIFY2(                           \
      near(got, want, tol),           \
      qPrintable(                     \
          QStringLiteral("got %1,%2 %3x%4").arg((got).x()).arg((got).y()).arg((got).width()).arg((got).height())))

class TestLayoutCanvas : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void drawCreatesSnappedBox() {
    Fixture f;
    QSignalSpy drawn(&f.canvas, &LayoutCanvas::boxDrawn);
    f.drag({13, 21}, {203, 150});
    QCOMPARE(f.doc.boxCount(), 1);
    QCOMPARE(f.doc.undoStack()->count(), 1);
    const int id = f.doc.boxes()[0].id;
    QCOMPARE(f.pixels(id), QRectF(QPointF(16, 24), QPointF(200, 152)));
    QCOMPARE(f.doc.selectedIds(), QList<int>{id});
    QCOMPARE(drawn.count(), 1);
    QCOMPARE_RECT(f.canvas.itemForBox(id)->pixelRect(), QRectF(QPointF(16, 24), QPointF(200, 152)), 1e-6);
  }

  void drawWithoutSnapFollowsTheMouse() {
    Fixture f;
    f.canvas.setSnapToGrid(false);
    f.drag({13, 21}, {203, 150});
    QCOMPARE(f.doc.boxCount(), 1);
    QCOMPARE_RECT(f.pixels(f.doc.boxes()[0].id), QRectF(QPointF(13, 21), QPointF(203, 150)), 1.5);
  }

  void clickOnEmptySpaceDrawsNothingAndClearsSelection() {
    Fixture f;
    const int id = f.addBox({64, 64, 128, 128});
    f.doc.setSelectedIds({id});
    f.drag({300, 300}, {302, 301});
    QCOMPARE(f.doc.boxCount(), 1);
    QVERIFY(f.doc.selectedIds().isEmpty());
    QCOMPARE(f.doc.undoStack()->count(), 0);
  }

  void dragMovesBoxInOneUndoStep() {
    Fixture f;
    const int id = f.addBox({64, 64, 128, 128});
    f.drag({128, 128}, {178, 158}, {}, 8);
    // Corner 64+50 -> 114 snaps to 112; 64+30 -> 94 snaps to 96.
    QCOMPARE(f.pixels(id), QRectF(112, 96, 128, 128));
    QCOMPARE(f.doc.undoStack()->count(), 1);
    QCOMPARE_RECT(f.canvas.itemForBox(id)->pixelRect(), QRectF(112, 96, 128, 128), 1e-6);
    f.doc.undoStack()->undo();
    QCOMPARE(f.pixels(id), QRectF(64, 64, 128, 128));
    QCOMPARE_RECT(f.canvas.itemForBox(id)->pixelRect(), QRectF(64, 64, 128, 128), 1e-6);
  }

  void moveStaysInsideTheImage() {
    Fixture f;
    const int id = f.addBox({400, 400, 100, 100});
    f.drag({450, 450}, {540, 530});
    QCOMPARE(f.pixels(id), QRectF(412, 412, 100, 100));
  }

  void handleResizesSelectedBox() {
    Fixture f;
    const int id = f.addBox({64, 64, 128, 128});
    f.click({100, 100});  // select
    QCOMPARE(f.doc.selectedIds(), QList<int>{id});
    f.drag({192, 192}, {250, 230});  // bottom-right handle
    QCOMPARE(f.pixels(id), QRectF(QPointF(64, 64), QPointF(248, 232)));
    QCOMPARE(f.doc.undoStack()->count(), 1);
    f.drag({64, 148}, {90, 148});  // left edge handle (middle of the left side)
    QCOMPARE(f.pixels(id), QRectF(QPointF(88, 64), QPointF(248, 232)));
    QCOMPARE(f.doc.undoStack()->count(), 2);
  }

  void resizeNeverInvertsTheBox() {
    Fixture f;
    const int id = f.addBox({64, 64, 128, 128});
    f.click({100, 100});
    f.drag({192, 192}, {10, 10});
    QCOMPARE(f.pixels(id), QRectF(64, 64, 8, 8));
  }

  void ctrlClickAndRubberBandSelectSeveral() {
    Fixture f;
    const int a = f.addBox({32, 32, 64, 64}), b = f.addBox({256, 256, 64, 64}), c = f.addBox({400, 32, 64, 64});
    f.click({50, 50});
    f.click({280, 280}, Qt::ControlModifier);
    QCOMPARE(f.doc.selectedIds(), (QList<int>{a, b}));
    f.click({50, 50}, Qt::ControlModifier);  // toggles off
    QCOMPARE(f.doc.selectedIds(), QList<int>{b});
    f.drag({380, 10}, {480, 120}, Qt::ShiftModifier);  // band around c, added to b
    QCOMPARE(f.doc.selectedIds(), (QList<int>{b, c}));
    QCOMPARE(f.doc.boxCount(), 3);
    // Dragging one of several selected boxes moves them all as one step.
    f.drag({280, 280}, {296, 288});
    QCOMPARE(f.pixels(b), QRectF(272, 264, 64, 64));
    QCOMPARE(f.pixels(c), QRectF(416, 40, 64, 64));
    QCOMPARE(f.pixels(a), QRectF(32, 32, 64, 64));
    QCOMPARE(f.doc.undoStack()->count(), 1);
  }

  void keysDeleteNudgeAndCycle() {
    Fixture f;
    const int a = f.addBox({64, 64, 64, 64}), b = f.addBox({256, 256, 64, 64});
    f.doc.setSelectedIds({a});
    QTest::keyClick(&f.canvas, Qt::Key_Right);
    QCOMPARE(f.pixels(a), QRectF(65, 64, 64, 64));
    QTest::keyClick(&f.canvas, Qt::Key_Down, Qt::ShiftModifier);
    QCOMPARE(f.pixels(a), QRectF(65, 72, 64, 64));
    QCOMPARE(f.doc.undoStack()->count(), 2);
    QTest::keyClick(&f.canvas, Qt::Key_BracketRight);
    QCOMPARE(f.doc.selectedIds(), QList<int>{b});
    QTest::keyClick(&f.canvas, Qt::Key_BracketRight);
    QCOMPARE(f.doc.selectedIds(), QList<int>{a});
    QTest::keyClick(&f.canvas, Qt::Key_BracketLeft);
    QCOMPARE(f.doc.selectedIds(), QList<int>{b});
    QTest::keyClick(&f.canvas, Qt::Key_Delete);
    QCOMPARE(f.doc.boxCount(), 1);
    QVERIFY(f.canvas.itemForBox(b) == nullptr);
    f.doc.undoStack()->undo();
    QCOMPARE(f.doc.boxCount(), 2);
    QVERIFY(f.canvas.itemForBox(b) != nullptr);
  }

  // Keyboard users can leave the canvas: Tab and Shift+Tab move the focus, not the selection.
  // F2, Enter and a double-click on a box ask to rename it.
  void tabLeavesTheCanvasAndF2Renames() {
    QWidget window;
    auto* before = new QLineEdit(&window);
    LayoutDocument doc;
    GenerationSettings s;
    s.width = s.height = 512;
    doc.setSettings(s);
    auto* canvas = new LayoutCanvas(&doc, &window);
    auto* after = new QLineEdit(&window);
    auto* layout = new QVBoxLayout(&window);
    layout->addWidget(before);
    layout->addWidget(canvas);
    layout->addWidget(after);
    window.resize(600, 700);
    window.show();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    LayoutBox box;
    box.id = doc.allocateBoxId();
    box.rect = QRectF(0.1, 0.1, 0.2, 0.2);
    box.phrase = "a cat";
    box.colour = doc.colourForNewBox();
    doc.undoStack()->push(new AddBoxes(&doc, {box}));
    canvas->fitToView();
    canvas->setFocus();
    QVERIFY(canvas->hasFocus());
    doc.setSelectedIds({box.id});
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
    QTRY_VERIFY(after->hasFocus());
    QCOMPARE(doc.selectedIds(), QList<int>{box.id});  // the selection did not move
    canvas->setFocus();
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Backtab);
    QTRY_VERIFY(before->hasFocus());

    QSignalSpy rename(canvas, &LayoutCanvas::renameRequested);
    canvas->setFocus();
    QTest::keyClick(canvas, Qt::Key_F2);
    QTest::keyClick(canvas, Qt::Key_Return);
    QCOMPARE(rename.count(), 2);
    const QPoint centre = canvas->mapFromScene(QPointF(0.2 * 512, 0.2 * 512));
    QTest::mouseDClick(canvas->viewport(), Qt::LeftButton, Qt::NoModifier, centre);
    QCOMPARE(rename.count(), 3);
    QCOMPARE(rename.at(2).at(0).toInt(), box.id);
  }

  // The snap grid follows the image size: 8 px (a latent cell) from 512 px, finer below.
  void gridScalesWithTheImage_data() {
    QTest::addColumn<int>("side");
    QTest::addColumn<int>("grid");
    QTest::newRow("512") << 512 << 8;
    QTest::newRow("768x512") << 768 << 8;
    QTest::newRow("256") << 256 << 4;
    QTest::newRow("128") << 128 << 2;
    QTest::newRow("64") << 64 << 1;
    QTest::newRow("32") << 32 << 1;
  }
  void gridScalesWithTheImage() {
    QFETCH(int, side);
    QFETCH(int, grid);
    LayoutDocument doc;
    GenerationSettings s;
    s.width = side;
    s.height = side == 768 ? 512 : side;
    doc.setSettings(s);
    LayoutCanvas canvas(&doc);
    QSignalSpy changed(&canvas, &LayoutCanvas::gridChanged);
    QCOMPARE(canvas.gridPixels(), grid);
    canvas.setSnapToGrid(false);
    QCOMPARE(changed.count(), 1);
  }

  void duplicateOffsetsCopiesByOneCell() {
    Fixture f;
    const int a = f.addBox({64, 64, 64, 64}, "a cat");
    f.doc.setSelectedIds({a});
    f.canvas.duplicateSelection();
    QCOMPARE(f.doc.boxCount(), 2);
    const LayoutBox& copy = f.doc.boxes()[1];
    QCOMPARE(copy.phrase, QString("a cat"));
    QCOMPARE(f.pixels(copy.id), QRectF(72, 72, 64, 64));
    QVERIFY(copy.colour != f.doc.boxes()[0].colour);
    QCOMPARE(f.doc.selectedIds(), QList<int>{copy.id});
  }

  void refusesMoreThanThirtyBoxes() {
    Fixture f;
    for (int i = 0; i < LayoutDocument::maxBoxes(); ++i) f.addBox({8.0 * i, 8.0 * i, 16, 16});
    QSignalSpy message(&f.canvas, &LayoutCanvas::message);
    f.drag({300, 40}, {400, 120});
    QCOMPARE(f.doc.boxCount(), LayoutDocument::maxBoxes());
    QCOMPARE(message.count(), 1);
    QVERIFY(message.at(0).at(0).toString().contains("30"));
  }

  void canvasFollowsSizeChanges() {
    Fixture f;
    const int a = f.addBox({0, 0, 256, 256});
    GenerationSettings s = f.doc.settings();
    s.width = 768;
    f.doc.undoStack()->push(new ChangeSettings(&f.doc, s, "size"));
    QCOMPARE(f.canvas.canvasSize(), QSize(768, 512));
    // Boxes are normalised: the same box covers the same fraction of the wider image.
    QCOMPARE_RECT(f.canvas.itemForBox(a)->pixelRect(), QRectF(0, 0, 384, 256), 1e-6);
  }
};

QTEST_MAIN(TestLayoutCanvas)
#include "test_layout_canvas.moc"
