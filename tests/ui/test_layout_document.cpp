// LayoutDocument and its undo commands: each command changes exactly what it says, undo restores
// the document exactly, redo re-applies it, and drags / typing merge into one step.
#include <QSignalSpy>
#include <QTest>
#include <QUndoStack>

#include "core/pipeline/layout.h"
#include "ui/commands/change_box_beta.h"
#include "ui/commands/add_boxes.h"
#include "ui/commands/change_phrase.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/layout_document.h"
#include "ui/commands/remove_boxes.h"
#include "ui/commands/reorder_box.h"
#include "ui/commands/toggle_boxes.h"
#include "ui/commands/transform_boxes.h"

using namespace gligen::ui;

namespace {

LayoutBox makeBox(LayoutDocument& doc, const QString& phrase, QRectF rect) {
  LayoutBox b;
  b.id = doc.allocateBoxId();
  b.phrase = phrase;
  b.rect = rect;
  b.colour = doc.colourForNewBox();
  return b;
}

// Three boxes added as one AddBoxes, then the history cleared: tests start from a clean stack.
void fillThree(LayoutDocument& doc) {
  QVector<LayoutBox> boxes;
  boxes.push_back(makeBox(doc, "a cat", QRectF(0.1, 0.1, 0.2, 0.2)));
  boxes.push_back(makeBox(doc, "a dog", QRectF(0.5, 0.5, 0.3, 0.25)));
  boxes.push_back(makeBox(doc, "a tree", QRectF(0.0, 0.0, 1.0, 0.5)));
  doc.undoStack()->push(new AddBoxes(&doc, boxes));
  doc.undoStack()->clear();
}

struct Snapshot {
  QVector<LayoutBox> boxes;
  GenerationSettings settings;
  bool operator==(const Snapshot& o) const { return boxes == o.boxes && settings == o.settings; }
};
Snapshot snap(const LayoutDocument& d) { return {d.boxes(), d.settings()}; }

}  // namespace

class TestLayoutDocument : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void addBoxesSelectsAndUndoes() {
    LayoutDocument doc;
    QSignalSpy changed(&doc, &LayoutDocument::boxesChanged);
    LayoutBox b = makeBox(doc, "a cat", QRectF(0.1, 0.2, 0.3, 0.4));
    doc.undoStack()->push(new AddBoxes(&doc, {b}));
    QCOMPARE(doc.boxCount(), 1);
    QCOMPARE(doc.boxes()[0], b);
    QCOMPARE(doc.selectedIds(), QList<int>{b.id});
    QVERIFY(changed.count() >= 1);
    doc.undoStack()->undo();
    QCOMPARE(doc.boxCount(), 0);
    QVERIFY(doc.selectedIds().isEmpty());
    doc.undoStack()->redo();
    QCOMPARE(doc.boxes()[0], b);
  }

  // Every command: apply, undo restores the exact snapshot, redo restores the applied one.
  void commandUndoRedoIsExact_data() {
    QTest::addColumn<int>("kind");
    QTest::newRow("remove two") << 0;
    QTest::newRow("transform") << 1;
    QTest::newRow("change phrase") << 2;
    QTest::newRow("toggle") << 3;
    QTest::newRow("reorder") << 4;
    QTest::newRow("change settings") << 5;
    QTest::newRow("load layout") << 6;
    QTest::newRow("box beta") << 7;
  }
  void commandUndoRedoIsExact() {
    QFETCH(int, kind);
    LayoutDocument doc;
    fillThree(doc);
    const Snapshot before = snap(doc);
    const int a = doc.boxes()[0].id, c = doc.boxes()[2].id;
    QUndoStack* stack = doc.undoStack();
    switch (kind) {
      case 0: stack->push(new RemoveBoxes(&doc, {c, a})); break;
      case 1: stack->push(new TransformBoxes(&doc, {a}, {QRectF(0.3, 0.3, 0.1, 0.1)})); break;
      case 2: stack->push(new ChangePhrase(&doc, c, "a tall tree")); break;
      case 3: stack->push(new ToggleBoxes(&doc, {a, c}, false)); break;
      case 4: stack->push(new ReorderBox(&doc, 0, 2)); break;
      case 5: {
        GenerationSettings s = doc.settings();
        s.prompt = "a park";
        s.steps = 25;
        s.seed = 42;
        stack->push(new ChangeSettings(&doc, s, "Change settings"));
        break;
      }
      case 6: {
        gligen::Layout l;
        l.prompt = "other";
        l.boxes.push_back({"x", 0.f, 0.f, 0.5f, 0.5f, true});
        doc.loadLayout(l, "Open layout");
        break;
      }
      case 7: stack->push(new ChangeBoxBeta(&doc, c, 0.75)); break;
    }
    const Snapshot after = snap(doc);
    QVERIFY(!(after == before));
    QCOMPARE(stack->count(), 1);
    stack->undo();
    QVERIFY(snap(doc) == before);
    QVERIFY(stack->isClean());
    stack->redo();
    QVERIFY(snap(doc) == after);
  }

  void commandEffects() {
    LayoutDocument doc;
    fillThree(doc);
    const int a = doc.boxes()[0].id, b = doc.boxes()[1].id, c = doc.boxes()[2].id;
    doc.undoStack()->push(new RemoveBoxes(&doc, {b}));
    QCOMPARE(doc.boxCount(), 2);
    QCOMPARE(doc.indexOfBox(b), -1);
    doc.undoStack()->undo();
    QCOMPARE(doc.indexOfBox(b), 1);  // back at its old place
    doc.undoStack()->push(new ReorderBox(&doc, 0, 2));
    QCOMPARE(doc.boxes()[0].id, b);
    QCOMPARE(doc.boxes()[1].id, c);
    QCOMPARE(doc.boxes()[2].id, a);
    doc.undoStack()->push(new ToggleBoxes(&doc, {c}, false));
    QCOMPARE(doc.enabledBoxCount(), 2);
    QCOMPARE(doc.toLayout().active_boxes().size(), size_t(2));
    doc.undoStack()->push(new ChangePhrase(&doc, a, "a lion"));
    QCOMPARE(doc.boxById(a)->phrase, QString("a lion"));
  }

  void noOpCommandsLeaveNoUndoStep() {
    LayoutDocument doc;
    fillThree(doc);
    const int a = doc.boxes()[0].id;
    doc.undoStack()->push(new ChangePhrase(&doc, a, doc.boxById(a)->phrase));
    doc.undoStack()->push(new ToggleBoxes(&doc, {a}, true));
    doc.undoStack()->push(new TransformBoxes(&doc, {a}, {doc.boxById(a)->rect}));
    doc.undoStack()->push(new ChangeSettings(&doc, doc.settings(), "nothing"));
    doc.undoStack()->push(new ReorderBox(&doc, 1, 1));
    QCOMPARE(doc.undoStack()->count(), 0);
  }

  void dragMergesIntoOneStep() {
    LayoutDocument doc;
    fillThree(doc);
    const int a = doc.boxes()[0].id, b = doc.boxes()[1].id;
    const QRectF ra = doc.boxById(a)->rect, rb = doc.boxById(b)->rect;
    for (int i = 1; i <= 10; ++i) {
      const double d = 0.01 * i;
      doc.undoStack()->push(new TransformBoxes(&doc, {a, b}, {ra.translated(d, 0), rb.translated(d, d)}, 7));
    }
    QCOMPARE(doc.undoStack()->count(), 1);
    QCOMPARE(doc.boxById(a)->rect, ra.translated(0.1, 0));
    // A new drag (other serial) is a new step.
    doc.undoStack()->push(new TransformBoxes(&doc, {a, b}, {ra, rb}, 8));
    QCOMPARE(doc.undoStack()->count(), 2);
    doc.undoStack()->undo();
    QCOMPARE(doc.boxById(a)->rect, ra.translated(0.1, 0));
    doc.undoStack()->undo();
    QCOMPARE(doc.boxById(a)->rect, ra);
    QCOMPARE(doc.boxById(b)->rect, rb);
    // Commands without a serial never merge.
    doc.undoStack()->push(new TransformBoxes(&doc, {a}, {ra.translated(0.01, 0)}));
    doc.undoStack()->push(new TransformBoxes(&doc, {a}, {ra.translated(0.02, 0)}));
    QCOMPARE(doc.undoStack()->count(), 2);
  }

  void dragBackToStartLeavesNothing() {
    LayoutDocument doc;
    fillThree(doc);
    const int a = doc.boxes()[0].id;
    const QRectF ra = doc.boxById(a)->rect;
    doc.undoStack()->push(new TransformBoxes(&doc, {a}, {ra.translated(0.1, 0)}, 3));
    doc.undoStack()->push(new TransformBoxes(&doc, {a}, {ra}, 3));
    QCOMPARE(doc.undoStack()->count(), 0);
    QCOMPARE(doc.boxById(a)->rect, ra);
  }

  void typingMergesPerField() {
    LayoutDocument doc;
    GenerationSettings s;
    for (const char* p : {"a", "a p", "a park"}) {
      s.prompt = p;
      doc.undoStack()->push(new ChangeSettings(&doc, s, "Edit prompt", 1));
    }
    QCOMPARE(doc.undoStack()->count(), 1);
    s.steps = 20;
    doc.undoStack()->push(new ChangeSettings(&doc, s, "Change steps", 2));
    QCOMPARE(doc.undoStack()->count(), 2);
    doc.undoStack()->undo();
    QCOMPARE(doc.settings().steps, 50);
    QCOMPARE(doc.settings().prompt, QString("a park"));
    doc.undoStack()->undo();
    QCOMPARE(doc.settings().prompt, QString());
  }

  void layoutRoundTrip() {
    const std::string json = R"({"format": "gligen-layout", "version": 1,
      "prompt": "A realistic image", "negative_prompt": "blurry",
      "phrases": ["a green car", "a blue truck"],
      "boxes": [[0.041015625, 0.548828125, 0.453125, 0.859375], [0.525390625, 0.552734375, 0.93359375, 0.865234375]],
      "enabled": [true, false], "betas": [0.7, null], "width": 512, "height": 768, "seed": 7, "steps": 30, "guidance": 5.0,
      "beta": 0.4, "scheduler": "ddim", "batch": 2})";
    const gligen::Layout in = gligen::layout_from_json(json, "test");
    LayoutDocument doc;
    doc.loadLayout(in, "Open");
    QCOMPARE(doc.boxCount(), 2);
    QCOMPARE(doc.boxes()[0].phrase, QString("a green car"));
    QVERIFY(!doc.boxes()[1].enabled);
    QCOMPARE(doc.boxes()[0].beta, std::optional<double>(0.7));
    QVERIFY(!doc.boxes()[1].beta);
    QVERIFY(doc.boxes()[0].colour != doc.boxes()[1].colour);
    const gligen::Layout out = doc.toLayout();
    QCOMPARE(gligen::layout_to_json(out), gligen::layout_to_json(in));
  }

  void selectionIgnoresUnknownIdsAndFollowsRemoval() {
    LayoutDocument doc;
    fillThree(doc);
    const int a = doc.boxes()[0].id, b = doc.boxes()[1].id;
    QSignalSpy spy(&doc, &LayoutDocument::selectionChanged);
    doc.setSelectedIds({a, b, 999});
    QCOMPARE(doc.selectedIds(), (QList<int>{a, b}));
    doc.undoStack()->push(new RemoveBoxes(&doc, {a}));
    QCOMPARE(doc.selectedIds(), QList<int>{b});
    QCOMPARE(spy.count(), 2);
  }

  void clampKeepsSizeInsideUnit() {
    QCOMPARE(clampToUnit(QRectF(0.9, -0.1, 0.2, 0.3)), QRectF(0.8, 0.0, 0.2, 0.3));
    QCOMPARE(clampToUnit(QRectF(-1, -1, 3, 3)), QRectF(0, 0, 1, 1));
  }
};

QTEST_GUILESS_MAIN(TestLayoutDocument)
#include "test_layout_document.moc"
