// The box list (phrase editing, enable, reorder, the 30-box message), the model dialog's
// plain-words check, and the typed settings.
#include <QClipboard>
#include <limits>
#include <QDoubleSpinBox>
#include <QComboBox>
#include <QSpinBox>
#include <QSplitter>
#include <QDialogButtonBox>
#include <QScrollArea>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QMimeData>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QApplication>
#include <QMessageBox>
#include <QPushButton>
#include <QAction>
#include <QDockWidget>
#include <QFileInfo>
#include <QMenu>
#include <QTest>
#include <QTimer>
#include <functional>
#include <QUndoStack>

#include "core/pipeline/model_folder.h"
#include "core/annotations/annotation_store.h"
#include "core/annotations/dataset_io.h"
#include "support/fixtures.h"
#include "support/studio_window.h"
#include "support/seed_dataset.h"
#include "ui/review/review_panel.h"
#include "ui/commands/add_boxes.h"
#include "ui/studio/box_list_model.h"
#include "ui/studio/box_list_panel.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/generation_panel.h"
#include "ui/studio/layout_canvas.h"
#include "ui/studio/main_window.h"
#include "resources/resources.h"
#include "ui/studio/layout_document.h"
#include "ui/studio/model_dialog.h"
#include "ui/studio/studio_settings.h"

using namespace gligen::ui;

namespace {
void addBoxes(LayoutDocument& doc, const QStringList& phrases) {
  QVector<LayoutBox> boxes;
  for (int i = 0; i < phrases.size(); ++i) {
    LayoutBox b;
    b.id = doc.allocateBoxId();
    b.phrase = phrases[i];
    b.rect = QRectF(0.01 * i, 0.01 * i, 0.25, 0.25);
    b.colour = doc.colourForNewBox(boxes);
    boxes.push_back(b);
  }
  doc.undoStack()->push(new AddBoxes(&doc, boxes));
  doc.undoStack()->clear();
}
QStringList phrases(const LayoutDocument& doc) {
  QStringList out;
  for (const LayoutBox& b : doc.boxes()) out << b.phrase;
  return out;
}
}  // namespace

class TestStudioWidgets : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    // Settings go to a test location under a test organisation, never the user's.
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("gligen-studio-tests");
  }

  void shortWindowKeepsGenerateInView() {
    // At the smallest window size the fields scroll, Generate stays visible, and Results gives up
    // height first.
    MainWindow window(gligen::test::quiet_window());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    auto* dock = window.findChild<QDockWidget*>(QStringLiteral("ResultsDock"));
    QVERIFY(dock);
    QTRY_VERIFY(dock->height() > 0);
    const int tall_dock = dock->height();
    window.resize(window.minimumSizeHint().width(), window.minimumSizeHint().height());
    QTRY_VERIFY_WITH_TIMEOUT(window.height() <= window.minimumSizeHint().height() + 1, 5000);
    QPushButton* generate = window.generationPanel()->generateButton();
    QTRY_VERIFY_WITH_TIMEOUT(!generate->visibleRegion().isEmpty(), 5000);
    const QRect inWindow(generate->mapTo(&window, QPoint(0, 0)), generate->size());
    QVERIFY2(window.rect().contains(inWindow), "Generate is outside the window");
    QVERIFY(generate->visibleRegion().boundingRect().height() == generate->height());  // not clipped by a scroll area
    QTRY_VERIFY_WITH_TIMEOUT(dock->height() < tall_dock, 5000);
    const QByteArray shots = qgetenv("GLIGEN_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(window.grab().save(QString::fromLocal8Bit(shots) + "/studio-smallest-window.png"));
  }

  void listEditsPushCommands() {
    LayoutDocument doc;
    addBoxes(doc, {"a cat", "a dog", "a tree"});
    BoxListModel model(&doc);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.data(model.index(1, BoxListModel::kPhraseColumn), Qt::DisplayRole).toString(), QString("a dog"));
    QVERIFY(model.setData(model.index(1, BoxListModel::kPhraseColumn), "  a puppy ", Qt::EditRole));
    QCOMPARE(doc.boxes()[1].phrase, QString("a puppy"));
    QVERIFY(model.setData(model.index(2, BoxListModel::kEnabledColumn), Qt::Unchecked, Qt::CheckStateRole));
    QVERIFY(!doc.boxes()[2].enabled);
    QCOMPARE(model.data(model.index(2, BoxListModel::kEnabledColumn), Qt::CheckStateRole).toInt(), int(Qt::Unchecked));
    QCOMPARE(doc.undoStack()->count(), 2);
    doc.undoStack()->undo();
    doc.undoStack()->undo();
    QCOMPARE(phrases(doc), (QStringList{"a cat", "a dog", "a tree"}));
    QVERIFY(doc.boxes()[2].enabled);
    // The size column is in pixels of the image.
    QCOMPARE(model.data(model.index(0, BoxListModel::kRectColumn), Qt::DisplayRole).toString(), QString("128×128"));
    doc.setModelDefaultSize(QSize(64, 64));
    QCOMPARE(model.data(model.index(0, BoxListModel::kRectColumn), Qt::DisplayRole).toString(), QString("16×16"));
  }

  void betaColumnSetsAndClearsABoxBeta() {
    LayoutDocument doc;
    addBoxes(doc, {"a cat", "a dog"});
    BoxListModel model(&doc);
    const QModelIndex dog = model.index(1, BoxListModel::kBetaColumn);
    QVERIFY(model.flags(dog) & Qt::ItemIsEditable);
    // No beta of its own: the layout's, shown in italics, and it follows the layout's.
    // A new layout leaves beta to the model: 0.3 without one, the model's own once it names one.
    QVERIFY(doc.settings().beta < 0);
    QCOMPARE(model.data(dog, Qt::DisplayRole).toString(), QString::number(gligen::kDefaultBeta, 'f', 2));
    doc.setModelDefaultBeta(1.0);
    QCOMPARE(model.data(dog, Qt::DisplayRole).toString(), QString("1.00"));
    QVERIFY(doc.toLayout().beta < 0);  // the pipeline resolves it with the model it runs
    QVERIFY(model.data(dog, Qt::FontRole).value<QFont>().italic());
    QCOMPARE(model.data(dog, Qt::EditRole).toDouble(), BoxListModel::kLayoutBeta);
    GenerationSettings s = doc.settings();
    s.beta = 0.45;
    doc.undoStack()->push(new ChangeSettings(&doc, s, "beta"));
    QCOMPARE(model.data(dog, Qt::DisplayRole).toString(), QString("0.45"));
    // Its own beta: set, shown upright, undone.
    QVERIFY(model.setData(dog, 0.8, Qt::EditRole));
    QCOMPARE(doc.boxes()[1].beta, std::optional<double>(0.8));
    QCOMPARE(model.data(dog, Qt::DisplayRole).toString(), QString("0.80"));
    QVERIFY(!model.data(dog, Qt::FontRole).isValid());
    QCOMPARE(doc.toLayout().boxes[1].beta, std::optional<double>(0.8));
    QVERIFY(!doc.toLayout().boxes[0].beta);
    QVERIFY(model.setData(dog, BoxListModel::kLayoutBeta, Qt::EditRole));
    QVERIFY(!doc.boxes()[1].beta);
    QVERIFY(!model.setData(dog, 1.5, Qt::EditRole));  // out of range: refused, nothing pushed
    const int steps = doc.undoStack()->count();
    QVERIFY(model.setData(dog, 0.0, Qt::EditRole));
    QCOMPARE(doc.undoStack()->count(), steps + 1);
    QVERIFY2(model.data(dog, Qt::ToolTipRole).toString().contains("not grounded"),
             qPrintable(model.data(dog, Qt::ToolTipRole).toString()));
    doc.undoStack()->undo();
    QVERIFY(!doc.boxes()[1].beta);
  }

  void dropReorders_data() {
    QTest::addColumn<int>("from");
    QTest::addColumn<int>("dropRow");
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("first to end") << 0 << 3 << QStringList{"b", "c", "a"};
    QTest::newRow("last to top") << 2 << 0 << QStringList{"c", "a", "b"};
    QTest::newRow("first below second") << 0 << 2 << QStringList{"b", "a", "c"};
    QTest::newRow("onto itself") << 1 << 1 << QStringList{"a", "b", "c"};
  }
  void dropReorders() {
    QFETCH(int, from);
    QFETCH(int, dropRow);
    QFETCH(QStringList, expected);
    LayoutDocument doc;
    addBoxes(doc, {"a", "b", "c"});
    BoxListModel model(&doc);
    std::unique_ptr<QMimeData> data(model.mimeData({model.index(from, 0)}));
    model.dropMimeData(data.get(), Qt::MoveAction, dropRow, 0, QModelIndex());
    QCOMPARE(phrases(doc), expected);
    QCOMPARE(model.rowCount(), 3);
  }

  void panelSyncsSelectionBothWays() {
    LayoutDocument doc;
    addBoxes(doc, {"a", "b", "c"});
    BoxListPanel panel(&doc);
    doc.setSelectedIds({doc.boxes()[1].id});
    QCOMPARE(panel.view()->selectionModel()->selectedRows().size(), 1);
    QCOMPARE(panel.view()->selectionModel()->selectedRows().front().row(), 1);
    panel.view()->selectRow(2);
    QCOMPARE(doc.selectedIds(), QList<int>{doc.boxes()[2].id});
  }

  void panelSaysWhenThereAreTooManyBoxes() {
    LayoutDocument doc;
    BoxListPanel panel(&doc);
    QStringList many;
    for (int i = 0; i < 31; ++i) many << QString("thing %1").arg(i);
    addBoxes(doc, many);
    QString text;
    for (QLabel* l : panel.findChildren<QLabel*>()) text += l->text() + "\n";
    QVERIFY2(text.contains("31 boxes") && text.contains("at most 30"), qPrintable(text));
  }

  void modelDialogChecksFolders() {
    ModelDialog dialog({});
    QTemporaryDir empty;
    dialog.setFolder(empty.path());
    QVERIFY(!dialog.folderLoadable());
    QVERIFY2(dialog.reportText().contains("cannot be loaded"), qPrintable(dialog.reportText()));
    const QString tiny = QString::fromStdString(gligen::test::fixture("tiny-gligen"));
    GLIGEN_REQUIRE_FIXTURE(tiny.toStdString());
    dialog.setFolder(tiny);
    QVERIFY2(dialog.folderLoadable(), qPrintable(dialog.reportText()));
    QVERIFY(dialog.reportText().contains("can be loaded"));
    QCOMPARE(dialog.chosenModel().folder, QDir::cleanPath(tiny));
  }

  // A folder with many problems in a small dialog: the text scrolls, no label is cut off, and
  // Load / Cancel stay in view.
  void modelDialogNeverCutsTextOff() {
    QTemporaryDir broken;
    {
      QFile f(broken.filePath("model_index.json"));
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(R"({"_class_name": "StableDiffusionGLIGENPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"]})");
    }
    ModelDialog dialog({RecentModel{QStringLiteral("/models/one"), QString()},
                        RecentModel{QStringLiteral("/models/two"), QStringLiteral("/models/two-unet")}});
    dialog.setFolder(broken.path());
    QVERIFY(!dialog.folderLoadable());
    QVERIFY2(dialog.reportText().count("<li>") >= 2, qPrintable(dialog.reportText()));
    dialog.resize(520, 420);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QVERIFY(dialog.findChild<QScrollArea*>(QStringLiteral("modelDialogScroll")));
    auto* scroll = dialog.findChild<QScrollArea*>(QStringLiteral("modelDialogScroll"));
    // Nothing runs out sideways: the content is as wide as the visible area.
    QTRY_VERIFY2(
        scroll->widget()->width() <= scroll->viewport()->width(),
        qPrintable(
            QString("content %1 px, view %2 px").arg(scroll->widget()->width()).arg(scroll->viewport()->width())));
    const QByteArray shots = qgetenv("GLIGEN_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(dialog.grab().save(QString::fromLocal8Bit(shots) + "/model-dialog-small.png"));
    for (QLabel* l : dialog.findChildren<QLabel*>()) {
      if (!l->isVisible() || !l->wordWrap()) continue;
      QTRY_VERIFY2(l->height() >= l->heightForWidth(l->width()), qPrintable(QString("%1: %2 px tall, needs %3")
                                                                                .arg(l->text().left(60))
                                                                                .arg(l->height())
                                                                                .arg(l->heightForWidth(l->width()))));
    }
    for (QPushButton* b : dialog.findChild<QDialogButtonBox*>()->findChildren<QPushButton*>()) {
      const QRect r(b->mapTo(&dialog, QPoint(0, 0)), b->size());
      QVERIFY2(dialog.rect().contains(r), qPrintable(b->text()));
    }
  }

  // The results dock (hidden, or moved) and the panel widths come back after a restart.
  void docksAndPanelsComeBackAfterARestart() {
    gligen::initResources();
    auto options = gligen::test::quiet_window();
    options.restoreSession = true;
    QList<int> widths;
    {
      MainWindow window(options);
      window.resize(1280, 800);
      window.show();
      QVERIFY(QTest::qWaitForWindowExposed(&window));
      auto* dock = window.findChild<QDockWidget*>(QStringLiteral("ResultsDock"));
      auto* splitter = window.findChild<QSplitter*>(QStringLiteral("StudioSplitter"));
      QVERIFY(dock && splitter);
      QVERIFY(dock->isVisible());
      QList<int> sizes = splitter->sizes();
      sizes[0] += 60;
      sizes[1] -= 60;
      splitter->setSizes(sizes);
      widths = splitter->sizes();
      dock->toggleViewAction()->trigger();
      QVERIFY(!dock->isVisible());
      QVERIFY(window.close());
    }
    {
      MainWindow window(options);
      window.show();
      QVERIFY(QTest::qWaitForWindowExposed(&window));
      auto* dock = window.findChild<QDockWidget*>(QStringLiteral("ResultsDock"));
      auto* splitter = window.findChild<QSplitter*>(QStringLiteral("StudioSplitter"));
      QVERIFY(!dock->isVisible());
      QCOMPARE(splitter->sizes(), widths);
      QCOMPARE(window.size(), QSize(1280, 800));
      dock->toggleViewAction()->trigger();  // leave the session as it was for the tests after this one
      QVERIFY(window.close());
    }
    StudioSettings().windowState.set(QByteArray());
    StudioSettings().splitterState.set(QByteArray());
    StudioSettings().windowGeometry.set(QByteArray());
  }

  // First run (nothing opened yet): the dialog suggests the default model (the shipped shapes
  // demo model; here $GLIGEN_DEFAULT_MODEL names the tiny fixture), ready to load; "Use the Shapes
  // Demo Model" brings it back after another folder was typed; with recent models the folder
  // starts empty.
  void modelDialogSuggestsTheDefaultModel() {
    const QString tiny = QString::fromStdString(gligen::test::fixture("tiny-gligen"));
    GLIGEN_REQUIRE_FIXTURE(tiny.toStdString());
    qputenv("GLIGEN_DEFAULT_MODEL", tiny.toUtf8());
    const QString suggested = QString::fromStdString(gligen::default_model_dir());
    QVERIFY(!suggested.isEmpty());
    ModelDialog first({});
    QCOMPARE(first.chosenModel().folder, QDir::cleanPath(suggested));
    QVERIFY2(first.folderLoadable(), qPrintable(first.reportText()));
    auto* use = first.findChild<QPushButton*>(QStringLiteral("useShapesDemo"));
    QVERIFY(use);
    first.setFolder(QStringLiteral("/nonexistent"));
    QVERIFY(!first.folderLoadable());
    use->click();
    QCOMPARE(first.chosenModel().folder, QDir::cleanPath(suggested));
    QVERIFY(first.folderLoadable());

    ModelDialog later({RecentModel{QStringLiteral("/somewhere/else"), QString()}});
    QVERIFY(later.chosenModel().folder.isEmpty() || later.chosenModel().folder == QLatin1String("."));
    qunsetenv("GLIGEN_DEFAULT_MODEL");
  }

  // Closing the window (Ctrl+Q too) with unsaved layout edits asks Save / Discard / Cancel;
  // Cancel keeps the window and the edits, Discard closes; a saved (clean) layout closes at once.
  void closingAsksToSaveUnsavedEdits() {
    gligen::initResources();
    MainWindow window(gligen::test::quiet_window());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    window.document()->undoStack()->setClean();
    int asked = 0;
    // Clicks `button` on the unsaved-layout box once it is up (it is modal: poll from the event loop).
    std::function<void(QMessageBox::StandardButton, int)> answer = [&](QMessageBox::StandardButton button, int tries) {
      QTimer::singleShot(20, &window, [&, button, tries] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (box && box->objectName() == QLatin1String("unsavedLayoutBox")) {
          ++asked;
          box->button(button)->click();
        } else if (tries > 0) {
          answer(button, tries - 1);
        }
      });
    };
    QVERIFY(window.close());  // nothing to save: no question
    QCOMPARE(asked, 0);
    window.show();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QVERIFY(window.openExample(MainWindow::exampleResources().front()));
    window.document()->undoStack()->setClean();
    const int boxes = window.document()->boxCount();
    window.canvas()->setFocus();
    window.document()->setSelectedIds({window.document()->boxes()[0].id});
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_D));  // an unsaved edit
    QCOMPARE(window.document()->boxCount(), boxes + 1);
    QVERIFY(window.windowTitle().contains(QLatin1Char('*')));
    answer(QMessageBox::Cancel, 250);
    QVERIFY(!window.close());
    QCOMPARE(asked, 1);
    QVERIFY(window.isVisible());
    QCOMPARE(window.document()->boxCount(), boxes + 1);
    answer(QMessageBox::Discard, 250);
    QVERIFY(window.close());
    QCOMPARE(asked, 2);
  }

  // File menu: Save writes to the layout's file, the title names it, Open Recent lists it, New
  // Layout starts empty (keeping the image settings).
  void fileMenuSaveRecentNewAndTitle() {
    gligen::initResources();
    StudioSettings().recentLayouts.set({});
    MainWindow window(gligen::test::quiet_window());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.windowTitle().startsWith("Untitled layout"));
    QVERIFY(window.openExample(MainWindow::exampleResources().front()));
    const int boxes = window.document()->boxCount();
    QVERIFY(boxes > 0);
    // The status bar shows the snap grid for this image size, and when it is off.
    QCOMPARE(window.snapStatus(), QString("snap %1 px").arg(window.canvas()->gridPixels()));
    window.canvas()->setSnapToGrid(false);
    QCOMPARE(window.snapStatus(), QString("snap off"));
    window.canvas()->setSnapToGrid(true);
    QTemporaryDir dir;
    const QString path = dir.filePath("street scene.json");
    QVERIFY(window.writeLayout(path));
    QVERIFY(QFileInfo::exists(path));
    QVERIFY2(window.windowTitle().startsWith("street scene.json —"), qPrintable(window.windowTitle()));
    QVERIFY(window.document()->undoStack()->isClean());
    QCOMPARE(StudioSettings().recentLayouts.get().value(0), QFileInfo(path).absoluteFilePath());
    QStringList recent;
    for (QAction* a : window.recentLayoutsMenu()->actions()) recent << a->text();
    QVERIFY2(recent.contains("street scene.json"), qPrintable(recent.join('|')));
    window.newLayout();  // clean: no question
    QCOMPARE(window.document()->boxCount(), 0);
    QVERIFY(window.windowTitle().startsWith("Untitled layout"));
    QVERIFY(window.openLayoutFile(path));
    QCOMPARE(window.document()->boxCount(), boxes);
    QVERIFY(window.windowTitle().startsWith("street scene.json"));
    QCOMPARE(window.layoutPath(), path);

    // The layout as a diffusers call: to the clipboard as Python, and as kwargs JSON that the
    // studio reads back (Save then asks for a file rather than rewrite it in our format).
    window.copyDiffusersCall();
    const QString python = QGuiApplication::clipboard()->text();
    QVERIFY2(python.contains("StableDiffusionGLIGENPipeline") && python.contains("gligen_boxes="), qPrintable(python));
    const QString kwargs = dir.filePath("call.json");
    {
      QFile f(kwargs);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(QByteArray::fromStdString(gligen::layout_to_diffusers(window.document()->toLayout()).kwargs_json));
    }
    QVERIFY(window.openLayoutFile(kwargs));
    QCOMPARE(window.document()->boxCount(), window.document()->enabledBoxCount());
    QCOMPARE(window.document()->boxCount(), boxes);
    QVERIFY(window.layoutPath().isEmpty());
  }

  // "Open as layout" from the review panel brings the image's prompt, boxes and photo, and keeps
  // the generation settings the user chose (steps, seed).
  void openAsLayoutKeepsGenerationSettings() {
    gligen::initResources();
    MainWindow window(gligen::test::quiet_window());
    LayoutDocument* doc = window.document();
    GenerationSettings s = doc->settings();
    s.steps = 7;
    s.seed = 5;
    doc->undoStack()->push(new ChangeSettings(doc, s, "settings"));
    QTemporaryDir dir;
    {
      auto store = gligen::annotations::AnnotationStore::open_or_create(dir.filePath("d.sqlite").toStdString());
      gligen::annotations::ImportOptions o;
      o.image_root = gligen::test::fixture("dataset");
      gligen::annotations::import_dataset(*store, gligen::test::fixture("dataset/train_data.pth"), o);
    }
    QVERIFY(window.openReviewDataset(dir.filePath("d.sqlite")));
    auto* review = window.findChild<ReviewPanel*>();
    QVERIFY(review);
    // Review has a window of its own that fits a 1280x800 screen.
    QVERIFY(review->isWindow() && review->isVisible());
    QVERIFY(review->minimumSizeHint().width() <= 1280 && review->minimumSizeHint().height() <= 800);
    gligen::Layout from_review;
    from_review.prompt = "a photo";
    from_review.boxes = {{"a thing", 0.1f, 0.1f, 0.5f, 0.5f, true}};
    from_review.inpaint_image = gligen::test::fixture("dataset/" + gligen::test::seed_dataset().records.at(0).file);
    Q_EMIT review->openAsLayoutRequested(from_review);
    QCOMPARE(doc->settings().steps, 7);
    QCOMPARE(doc->settings().seed.value_or(0), quint64(5));
    QCOMPARE(doc->settings().prompt, QString("a photo"));
    QCOMPARE(doc->boxCount(), 1);
    QCOMPARE(doc->settings().inpaintImage.toStdString(), from_review.inpaint_image);
  }

  // File > Open Dataset for Review also takes a seed .pth (or COCO JSON): it is imported into a
  // new dataset file on a worker thread, then opened in the review panel.
  void seedPthIsImportedForReview() {
    MainWindow window(gligen::test::quiet_window());
    QTemporaryDir dir;
    const QString db = dir.filePath("imported.sqlite");
    QSignalSpy imported(&window, &MainWindow::datasetImported);
    QVERIFY(window.importDatasetForReview(QString::fromStdString(gligen::test::fixture("dataset/train_data.pth")), db,
                                          QString::fromStdString(gligen::test::fixture("dataset"))));
    QVERIFY(imported.wait(60000));
    QVERIFY2(imported.at(0).at(0).toBool(), qPrintable(imported.at(0).at(1).toString()));
    auto* review = window.findChild<ReviewPanel*>();
    QVERIFY(review && review->store());
    QCOMPARE(review->listedImages().size(), gligen::test::seed_dataset().records.size());
  }

  // The window's shortcuts act on the document: duplicate, delete, undo and both redo keys.
  void windowShortcuts() {
    gligen::initResources();
    MainWindow window(gligen::test::quiet_window());
    window.show();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QVERIFY(!MainWindow::exampleResources().isEmpty());
    QVERIFY(window.openExample(MainWindow::exampleResources().front()));
    LayoutDocument* doc = window.document();
    QCOMPARE(doc->boxCount(), 4);
    window.canvas()->setFocus();
    doc->setSelectedIds({doc->boxes()[0].id});
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_D));
    QCOMPARE(doc->boxCount(), 5);
    QTest::keySequence(&window, QKeySequence(Qt::Key_Delete));
    QCOMPARE(doc->boxCount(), 4);
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_Z));
    QCOMPARE(doc->boxCount(), 5);
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_Y));
    QCOMPARE(doc->boxCount(), 4);
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_Z));
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_Z));
    QCOMPARE(doc->boxCount(), 4);  // the duplicate is undone too
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z));
    QCOMPARE(doc->boxCount(), 5);
    QTest::keySequence(&window, QKeySequence(Qt::CTRL | Qt::Key_A));
    QCOMPARE(doc->selectedIds().size(), 5);
  }

  void panelShowsAndEditsLargeSeeds() {
    LayoutDocument doc;
    GenerationPanel panel(&doc);
    GenerationSettings s;
    s.seed = 7881239408912345ull;  // above 2^31, as random seeds are
    doc.undoStack()->push(new ChangeSettings(&doc, s, "seed"));
    QLineEdit* found = nullptr;
    for (QLineEdit* e : panel.findChildren<QLineEdit*>())
      if (e->text() == "7881239408912345") found = e;
    QVERIFY(found);
    found->selectAll();
    QTest::keyClicks(found, "9000000000");
    QCOMPARE(doc.settings().seed.value_or(0), quint64(9000000000ull));
    // Typing in the prompt is one undo step per field.
    QTest::keyClicks(panel.promptEdit(), "a park");
    QCOMPARE(doc.settings().prompt, QString("a park"));
    const int steps = doc.undoStack()->count();
    doc.undoStack()->undo();
    QCOMPARE(doc.settings().prompt, QString());
    QCOMPARE(doc.undoStack()->index(), steps - 1);
  }

  // Beta below 0 is "Model default": the model's own beta once a model names one, else 0.3; a
  // chosen value is one undo step, and stepping below 0 gives the choice back to the model.
  void panelOffersTheModelsDefaultBeta() {
    LayoutDocument doc;
    GenerationPanel panel(&doc);
    QDoubleSpinBox* beta = nullptr;
    for (QDoubleSpinBox* b : panel.findChildren<QDoubleSpinBox*>())
      if (b->specialValueText().startsWith("Model default")) beta = b;
    QVERIFY(beta);
    QCOMPARE(beta->text(), QString("Model default (0.30)"));
    doc.setModelDefaultBeta(1.0);
    QCOMPARE(beta->text(), QString("Model default (1.00)"));
    QVERIFY(doc.settings().beta < 0);
    QCOMPARE(doc.effectiveBeta(), 1.0);
    const int steps = doc.undoStack()->count();
    beta->setValue(0.5);
    QCOMPARE(doc.settings().beta, 0.5);
    QCOMPARE(doc.effectiveBeta(), 0.5);
    QCOMPARE(doc.undoStack()->count(), steps + 1);
    doc.undoStack()->undo();
    QVERIFY(doc.settings().beta < 0);
    QCOMPARE(beta->text(), QString("Model default (1.00)"));
    doc.undoStack()->redo();
    QCOMPARE(beta->value(), 0.5);
    beta->setValue(beta->minimum());
    QVERIFY(doc.settings().beta < 0);
    QCOMPARE(beta->text(), QString("Model default (1.00)"));
    doc.setModelDefaultBeta(std::nullopt);  // the model is gone
    QCOMPARE(beta->text(), QString("Model default (0.30)"));
    QCOMPARE(doc.effectiveBeta(), gligen::kDefaultBeta);
  }

  // The panel shows every value a layout file may hold, unchanged; what it must change, it says.
  void panelNeverClampsQuietly() {
    LayoutDocument doc;
    GenerationPanel panel(&doc);
    gligen::Layout l;
    l.steps = 1000;
    l.guidance = 100;
    l.batch = 64;
    l.beta = 1.0;
    l.width = 4096;
    l.height = 8;
    l.seed = std::numeric_limits<std::uint64_t>::max();
    gligen::validate_layout(l);  // the extremes a layout file may hold
    doc.loadLayout(l, "extremes");
    QList<int> ints;
    for (QSpinBox* b : panel.findChildren<QSpinBox*>()) ints << b->value();
    QList<double> reals;
    for (QDoubleSpinBox* b : panel.findChildren<QDoubleSpinBox*>()) reals << b->value();
    QVERIFY2(ints.contains(1000) && ints.contains(64), qPrintable(QString::number(ints.size())));
    QVERIFY(reals.contains(100.0) && reals.contains(1.0));
    QStringList texts;
    for (QLineEdit* e : panel.findChildren<QLineEdit*>()) texts << e->text();
    QVERIFY2(texts.contains(QString::number(std::numeric_limits<quint64>::max())), qPrintable(texts.join('|')));
    QStringList sizes;
    for (QComboBox* c : panel.findChildren<QComboBox*>()) sizes << c->currentText();
    QVERIFY2(sizes.contains(QString("4096×8")), qPrintable(sizes.join('|')));
    QCOMPARE(doc.settings().steps, 1000);  // nothing was written back
    QCOMPARE(doc.settings().batch, 64);

    // A custom size that is not a multiple of 8 is rounded up, and the panel says so.
    panel.setCustomSize(100, 60);
    QCOMPARE(doc.settings().width, 104);
    QCOMPARE(doc.settings().height, 64);
    QString status;
    for (QLabel* label : panel.findChildren<QLabel*>()) status += label->text() + "\n";
    QVERIFY2(status.contains("100×60") && status.contains("104×64"), qPrintable(status));
    // A seed past 2^64 - 1 is not taken, and the panel says which seed stays.
    QLineEdit* seed = nullptr;
    for (QLineEdit* e : panel.findChildren<QLineEdit*>())
      if (e->text() == QString::number(std::numeric_limits<quint64>::max())) seed = e;
    QVERIFY(seed);
    seed->selectAll();
    QTest::keyClicks(seed, "99999999999999999999");  // 19 nines are a seed; the 20th is past the range
    QCOMPARE(doc.settings().seed, std::optional<quint64>(9999999999999999999ull));
    status.clear();
    for (QLabel* label : panel.findChildren<QLabel*>()) status += label->text() + "\n";
    QVERIFY2(status.contains("Seeds go up to 18446744073709551615; the seed stays 9999999999999999999"),
             qPrintable(status));
  }

  void recentModelsAreTypedAndBounded() {
    QSettings().clear();
    StudioSettings settings;
    QVERIFY(settings.recentModels().isEmpty());
    for (int i = 0; i < StudioSettings::kMaxRecentModels + 3; ++i)
      settings.addRecentModel({QString("/m/%1").arg(i), QString()});
    settings.addRecentModel({"/m/3", "/u"});
    const QVector<RecentModel> recent = settings.recentModels();
    QCOMPARE(recent.size(), StudioSettings::kMaxRecentModels);
    QCOMPARE(recent.front().folder, QString("/m/3"));
    QCOMPARE(recent.front().unet, QString("/u"));
    settings.addRecentModel({"/m/3", "/u"});  // again: no duplicate
    QCOMPARE(settings.recentModels().size(), StudioSettings::kMaxRecentModels);
    settings.snapToGrid.set(false);
    QCOMPARE(StudioSettings().snapToGrid.get(), false);
    QSettings().clear();
    QCOMPARE(StudioSettings().snapToGrid.get(), true);
  }
};

QTEST_MAIN(TestStudioWidgets)
#include "test_studio_widgets.moc"
