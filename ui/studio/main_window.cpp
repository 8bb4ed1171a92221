#include "ui/studio/main_window.h"

#include <QAction>
#include <QClipboard>
#include <QGuiApplication>
#include <QSaveFile>
#include <QApplication>
#include <QCloseEvent>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QThread>
#include <QPointer>
#include <QMessageBox>
#include <QScrollArea>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>
#include <QUndoStack>

#include "core/distributed/torch_build.h"
#include "core/pipeline/model_folder.h"
#include "core/pipeline/png_io.h"
#include "core/util/error.h"
#include "core/util/version.h"
#include "ui/studio/box_list_panel.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/generation_panel.h"
#include "ui/studio/layout_canvas.h"
#include "ui/studio/layout_document.h"
#include "ui/studio/live_preview.h"
#include "ui/studio/model_dialog.h"
#include "ui/studio/results_gallery.h"
#include "core/annotations/annotation_store.h"
#include "core/annotations/dataset_io.h"
#include "ui/review/review_panel.h"
#include "ui/dashboard/training_dashboard.h"

namespace gligen::ui {

MainWindow::MainWindow(const Options& options, QWidget* parent)
    : QMainWindow(parent),
      document_(new LayoutDocument(this)),
      canvas_(new LayoutCanvas(document_, this)),
      box_list_(new BoxListPanel(document_, this)),
      panel_(new GenerationPanel(document_, this)),
      gallery_(new ResultsGallery(this)),
      preview_(new LivePreview(this)),
      splitter_(new QSplitter(Qt::Horizontal, this)),
      results_dock_(new QDockWidget(tr("Results"), this)),
      zoom_label_(new QLabel(this)),
      job_(new GenerationJob) {
  setWindowIcon(QIcon(QStringLiteral(":/gligen/icons/gligen-studio.svg")));
  setObjectName(QStringLiteral("MainWindow"));

  // The right-hand panel scrolls its fields on small screens and keeps Generate in view.
  box_list_->setMinimumWidth(220);
  splitter_->addWidget(box_list_);
  splitter_->addWidget(canvas_);
  splitter_->addWidget(panel_);
  splitter_->setStretchFactor(0, 0);
  splitter_->setStretchFactor(1, 1);
  splitter_->setStretchFactor(2, 0);
  splitter_->setSizes({260, 700, 320});
  splitter_->setObjectName(QStringLiteral("StudioSplitter"));
  splitter_->setChildrenCollapsible(false);
  splitter_->setContentsMargins(6, 6, 6, 0);
  setCentralWidget(splitter_);

  results_dock_->setObjectName(QStringLiteral("ResultsDock"));
  // The image being made sits at the left of the results, where it lands when done.
  auto* results = new QWidget(this);
  auto* resultsLayout = new QHBoxLayout(results);
  resultsLayout->setContentsMargins(6, 0, 6, 6);
  resultsLayout->addWidget(preview_);
  resultsLayout->addWidget(gallery_, 1);
  results_dock_->setWidget(results);
  results_dock_->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                             QDockWidget::DockWidgetClosable);
  addDockWidget(Qt::BottomDockWidgetArea, results_dock_);

  canvas_->setSnapToGrid(settings_.snapToGrid.get());
  panel_->setSeedMode(SeedMode(settings_.seedMode.get()));
  panel_->setDevices(GenerationJob::availableDevices(), settings_.device.get(), settings_.precision.get());

  buildActions();
  buildMenus();
  // The snap grid, always in view: on or off, and how fine it is for this image size.
  snap_label_ = new QLabel(this);
  snap_label_->setToolTip(tr("Boxes snap to this grid (View > Snap to Latent Grid, Ctrl+G)"));
  statusBar()->addPermanentWidget(snap_label_);
  statusBar()->addPermanentWidget(zoom_label_);
  auto syncGrid = [this]() {
    const int g = canvas_->gridPixels();
    snap_label_->setText(canvas_->snapToGrid() ? tr("snap %1 px").arg(g) : tr("snap off"));
    snap_->setText(tr("&Snap to Latent Grid (%1 px)").arg(g));
  };
  connect(canvas_, &LayoutCanvas::gridChanged, this, syncGrid);
  syncGrid();
  statusBar()->showMessage(tr("Drag on the canvas to draw a box."));

  job_->moveToThread(&worker_);
  connect(&worker_, &QThread::finished, job_, &QObject::deleteLater);
  worker_.setObjectName(QStringLiteral("gligen-generation"));
  worker_.start();
  connectJob();
  check_iou_ = settings_.checkIouPercent.get() / 100.0;
  grounding_tries_ = std::max(1, settings_.groundingTries.get());
  if (!settings_.detectorFolder.get().isEmpty())
    setGroundingCheck(settings_.detectorFolder.get(), check_iou_, grounding_tries_);

  connect(canvas_, &LayoutCanvas::message, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
  connect(canvas_, &LayoutCanvas::boxDrawn, box_list_, &BoxListPanel::editPhrase);
  connect(canvas_, &LayoutCanvas::renameRequested, box_list_, &BoxListPanel::editPhrase);
  connect(canvas_, &LayoutCanvas::zoomChanged, this, [this](qreal z) {
    const QSize size = document_->imageSize();
    zoom_label_->setText(tr("%1×%2 px, zoom %3%").arg(size.width()).arg(size.height()).arg(qRound(z * 100)));
  });
  connect(panel_, &GenerationPanel::generateRequested, this, &MainWindow::generate);
  connect(panel_, &GenerationPanel::cancelRequested, this, &MainWindow::cancelGeneration);
  connect(panel_, &GenerationPanel::openModelRequested, this, &MainWindow::showModelDialog);
  connect(panel_, &GenerationPanel::deviceChanged, this, [this](const QString& device, const QString& precision) {
    settings_.device.set(device);
    settings_.precision.set(precision);
    if (model_) loadModel({model_->folder, model_->unet});
  });
  connect(gallery_, &ResultsGallery::restoreLayoutRequested, this, [this](const gligen::Layout& layout) {
    if (gligen::layout_to_json(layout) != gligen::layout_to_json(document_->toLayout())) {
      document_->loadLayout(layout, tr("Restore layout"));
      statusBar()->showMessage(tr("Layout restored from the result (Ctrl+Z to go back)."), 6000);
    }
    // The selected result's grounding check, drawn over its boxes.
    const int index = gallery_->currentResult();
    if (index >= 0 && index < gallery_->results().size())
      canvas_->setGroundingOverlay(gallery_->results()[index].check);
  });
  connect(gallery_, &ResultsGallery::reuseSeedRequested, this, [this](quint64 seed) {
    GenerationSettings s = document_->settings();
    s.seed = seed;
    document_->undoStack()->push(new ChangeSettings(document_, s, tr("Reuse seed")));
    panel_->setSeedMode(SeedMode::Fixed);
  });
  connect(gallery_, &ResultsGallery::saveRequested, this, &MainWindow::saveImageDialog);
  connect(document_->undoStack(), &QUndoStack::cleanChanged, this, &MainWindow::updateTitle);
  updateTitle();
  resize(1360, 860);
  resizeDocks({results_dock_}, {190}, Qt::Vertical);

  if (options.restoreSession) restoreSession();
  if (options.firstRunScreen && settings_.recentModels().isEmpty())
    QTimer::singleShot(0, this, &MainWindow::showModelDialog);
}

MainWindow::~MainWindow() {
  job_->cancel();
  worker_.quit();
  worker_.wait();
}

// --- actions and menus ---------------------------------------------------------------------

void MainWindow::buildActions() {
  QUndoStack* stack = document_->undoStack();
  undo_ = stack->createUndoAction(this, tr("&Undo"));
  undo_->setShortcut(QKeySequence::Undo);
  redo_ = stack->createRedoAction(this, tr("&Redo"));
  redo_->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_Y), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z)});
  delete_ = new QAction(tr("&Delete Boxes"), this);
  delete_->setShortcuts({QKeySequence::Delete, QKeySequence(Qt::Key_Backspace)});
  connect(delete_, &QAction::triggered, canvas_, &LayoutCanvas::deleteSelection);
  duplicate_ = new QAction(tr("D&uplicate Boxes"), this);
  duplicate_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_D));
  connect(duplicate_, &QAction::triggered, canvas_, &LayoutCanvas::duplicateSelection);
  auto syncEnabled = [this]() {
    const bool any = !document_->selectedIds().isEmpty();
    delete_->setEnabled(any);
    duplicate_->setEnabled(any);
  };
  connect(document_, &LayoutDocument::selectionChanged, this, syncEnabled);
  syncEnabled();
  snap_ = new QAction(tr("&Snap to Latent Grid (8 px)"), this);
  snap_->setCheckable(true);
  snap_->setChecked(canvas_->snapToGrid());
  snap_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_G));
  connect(snap_, &QAction::toggled, this, [this](bool on) {
    canvas_->setSnapToGrid(on);
    settings_.snapToGrid.set(on);
  });
  generate_ = new QAction(tr("&Generate"), this);
  generate_->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
  connect(generate_, &QAction::triggered, this, &MainWindow::generate);
  cancel_ = new QAction(tr("&Cancel Generation"), this);
  cancel_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
  cancel_->setEnabled(false);
  connect(cancel_, &QAction::triggered, this, &MainWindow::cancelGeneration);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&New Layout"), QKeySequence::New, this, &MainWindow::newLayout);
  file->addAction(tr("&Open Layout or Image…"), QKeySequence::Open, this, &MainWindow::openLayoutDialog);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  rebuildRecentMenu();
  file->addAction(tr("Open &Model…"), QKeySequence(Qt::CTRL | Qt::Key_M), this, &MainWindow::showModelDialog);
  QMenu* examples = file->addMenu(tr("&Examples"));
  for (const QString& res : exampleResources()) {
    QString title = QFileInfo(res).completeBaseName().replace(QLatin1Char('-'), QLatin1Char(' '));
    title[0] = title[0].toUpper();
    examples->addAction(title, this, [this, res]() { openExample(res); });
  }
  file->addAction(tr("Open &Dataset for Review…"), this, [this]() {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open Annotation Dataset"), settings_.lastDirectory.get(),
        tr("Datasets (*.db *.sqlite *.pth *.json);;Annotation databases (*.db *.sqlite);;"
           "Seed .pth or COCO JSON, imported into a new dataset (*.pth *.json);;All files (*)"));
    if (path.isEmpty()) return;
    settings_.lastDirectory.set(QFileInfo(path).absolutePath());
    if (gligen::annotations::is_annotation_database(path.toStdString())) {
      openReviewDataset(path);
      return;
    }
    // A seed .pth or COCO JSON: import it into a new dataset file first.
    const QFileInfo src(path);
    const QString dataset = QFileDialog::getSaveFileName(
        this, tr("Save the Imported Dataset As"),
        src.dir().filePath(src.completeBaseName() + QStringLiteral(".sqlite")), tr("Annotation databases (*.sqlite)"));
    if (dataset.isEmpty()) return;
    const QString images =
        QFileDialog::getExistingDirectory(this, tr("Folder Holding the Dataset's Images"), src.absolutePath());
    if (images.isEmpty()) return;
    importDatasetForReview(path, dataset, images);
  });
  file->addSeparator();
  file->addAction(tr("&Save Layout"), QKeySequence::Save, this, &MainWindow::saveLayout);
  file->addAction(tr("Save Layout &As…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S), this,
                  &MainWindow::saveLayoutDialog);
  file->addAction(tr("Copy as Diffusers &Call"), this, &MainWindow::copyDiffusersCall);
  file->addAction(tr("Save as Diffusers &JSON…"), this, &MainWindow::saveDiffusersJson);
  file->addAction(tr("&Export Selected Image…"), QKeySequence(Qt::CTRL | Qt::Key_E), this, [this]() {
    if (gallery_->currentResult() >= 0)
      saveImageDialog(gallery_->currentResult());
    else
      statusBar()->showMessage(tr("No image yet: generate one first."), 5000);
  });
  file->addSeparator();
  file->addAction(tr("Set &Background Image…"), this, &MainWindow::chooseBackgroundImage);
  file->addAction(tr("Clear Background Image"), this, &MainWindow::clearBackgroundImage);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(undo_);
  edit->addAction(redo_);
  edit->addSeparator();
  edit->addAction(delete_);
  edit->addAction(duplicate_);
  edit->addAction(tr("Select &All Boxes"), QKeySequence::SelectAll, canvas_, &LayoutCanvas::selectAll);
  edit->addAction(tr("Select &Next Box"), canvas_, [this]() { canvas_->selectNextBox(false); });

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("Zoom &In"), QKeySequence::ZoomIn, canvas_, &LayoutCanvas::zoomIn);
  view->addAction(tr("Zoom &Out"), QKeySequence::ZoomOut, canvas_, &LayoutCanvas::zoomOut);
  view->addAction(tr("&Fit to Window"), QKeySequence(Qt::CTRL | Qt::Key_0), canvas_, &LayoutCanvas::fitToView);
  view->addSeparator();
  view->addAction(snap_);
  view->addAction(results_dock_->toggleViewAction());

  QMenu* gen = menuBar()->addMenu(tr("&Generate"));
  gen->addAction(generate_);
  gen->addAction(tr("Generate Until &Grounded"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Return), this,
                 &MainWindow::generateUntilGrounded);
  gen->addAction(cancel_);
  gen->addSeparator();
  gen->addAction(tr("Grounding &Check…"), this, &MainWindow::showGroundingCheckDialog);

  QMenu* train = menuBar()->addMenu(tr("&Training"));
  train->addAction(tr("Training &Dashboard"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T), this,
                   &MainWindow::showTrainingDashboard);
  train->addAction(tr("&New Training Job…"), this, [this]() {
    showTrainingDashboard();
    trainingDashboard()->newJobDialog();
  });
  train->addAction(tr("New Dataset &Job…"), this, [this]() {
    showTrainingDashboard();
    trainingDashboard()->newDatasetJobDialog();
  });
  train->addAction(tr("&Attach Run Folder…"), this, [this]() {
    showTrainingDashboard();
    trainingDashboard()->attachDialog();
  });

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Getting a Model…"), this, &MainWindow::showModelDialog);
  help->addAction(tr("&About GLIGEN Studio"), this, &MainWindow::showAbout);
}

QStringList MainWindow::exampleResources() {
  QStringList out;
  const QDir dir(QStringLiteral(":/gligen/examples"));
  for (const QString& name : dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name))
    out << dir.filePath(name);
  return out;
}

// --- engine --------------------------------------------------------------------------------

void MainWindow::connectJob() {
  connect(job_, &GenerationJob::status, this, [this](const QString& s) {
    statusBar()->showMessage(s);
    panel_->setStatus(s);
  });
  connect(job_, &GenerationJob::modelLoaded, this, [this](const ModelInfo& info) {
    loading_ = false;
    model_ = info;
    settings_.addRecentModel({info.folder, info.unet});
    document_->setModelDefaultSize(info.defaultSize);
    document_->setModelDefaultBeta(info.defaultBeta);
    panel_->setModelDefaults(info.defaultSize, info.defaultScheduler);
    // The UNet in use when it is not the model's own: a training checkpoint (named with its run)
    // or another UNet folder.
    QString unet;
    if (!info.unet.isEmpty()) {
      const QFileInfo u(QDir::cleanPath(info.unet));
      const bool checkpoint = QFileInfo::exists(QDir(u.filePath()).filePath(QStringLiteral("manifest.json")));
      const QString where = checkpoint
                                ? tr("%1 of the run “%2”")
                                      .arg(u.fileName(), QDir(u.absolutePath() + "/..").absolutePath().section('/', -1))
                                : QDir(u.absolutePath()).dirName() + QLatin1Char('/') + u.fileName();
      unet = tr("<br>UNet: %1").arg(where.toHtmlEscaped());
    }
    panel_->setModelDescription(tr("<b>%1</b>%8<br>%2×%3, %4%5, on %6 (%7)")
                                    .arg(QFileInfo(info.folder).fileName().toHtmlEscaped())
                                    .arg(info.defaultSize.width())
                                    .arg(info.defaultSize.height())
                                    .arg(info.defaultScheduler.toHtmlEscaped())
                                    .arg(info.inpainting ? tr(", inpainting") : QString())
                                    .arg(info.device, info.precision, unet),
                                true);
    panel_->setStatus(tr("Model ready."));
    if (dashboard_) dashboard_->setStudioContext(info.folder, review_dataset_);
    statusBar()->showMessage(tr("Loaded %1.").arg(info.folder), 6000);
    updateTitle();
    Q_EMIT modelReady();
  });
  connect(job_, &GenerationJob::modelFailed, this, [this](const QString& message) {
    loading_ = false;
    model_.reset();
    document_->setModelDefaultBeta(std::nullopt);
    panel_->setModelDescription(QString(), false);
    panel_->setStatus(tr("Loading failed."));
    Q_EMIT modelLoadFailed(message);
    QMessageBox::warning(this, tr("Cannot load the model"), message);
  });
  connect(job_, &GenerationJob::progress, panel_, &GenerationPanel::setProgress);
  connect(job_, &GenerationJob::preview, preview_, &LivePreview::setImage);
  connect(job_, &GenerationJob::progress, preview_,
          [this](int done, int total) { preview_->setCaption(tr("step %1 / %2").arg(done).arg(total)); });
  connect(job_, &GenerationJob::warning, this, [this](const QString& w) { statusBar()->showMessage(w, 10000); });
  connect(job_, &GenerationJob::imagesReady, this, [this](const QVector<GeneratedImage>& images) {
    const bool more_tries = !images.isEmpty() && images.front().tryNumber > 0;
    if (!more_tries) setBusy(false);
    gallery_->addResults(images);
    if (!images.isEmpty() &&
        gligen::layout_to_json(images.front().layout) == gligen::layout_to_json(document_->toLayout())) {
      canvas_->setGroundingOverlay(images.front().check);
    }
    if (more_tries) {
      const GeneratedImage& g = images.front();
      const QString text = tr("Try %1 of up to %2 (seed %3): %4 of %5 boxes found.")
                               .arg(g.tryNumber)
                               .arg(g.tryCount)
                               .arg(g.layout.seed.value_or(0))
                               .arg(g.check ? g.check->found : 0)
                               .arg(g.check ? int(g.check->boxes.size()) : 0);
      panel_->setStatus(text);
      statusBar()->showMessage(text, 8000);
      preview_->setImage(g.image);
      return;
    }
    if (!images.isEmpty()) {
      preview_->setImage(images.front().image);
      preview_->setCaption(tr("done"));
    }
    const gligen::Layout& l = images.isEmpty() ? gligen::Layout{} : images.front().layout;
    if (panel_->seedMode() == SeedMode::Increment && l.seed) {
      GenerationSettings s = document_->settings();
      s.seed = *l.seed + quint64(std::max(l.batch, 1));
      document_->undoStack()->push(new ChangeSettings(document_, s, tr("Next seed")));
    }
    const QString seed = l.seed ? QString::number(*l.seed) : QString();
    const QString text = images.size() == 1 ? tr("Generated 1 image, seed %1.").arg(seed)
                                            : tr("Generated %1 images, seed %2.").arg(images.size()).arg(seed);
    panel_->setStatus(text);
    statusBar()->showMessage(text, 8000);
    Q_EMIT generationFinished(true);
  });
  connect(job_, &GenerationJob::groundingFinished, this, [this](int best, quint64 seed, double fraction, int tries) {
    setBusy(false);
    gallery_->selectTry(seed);
    const int index = gallery_->currentResult();
    if (index >= 0) {
      const GeneratedImage& g = gallery_->results()[index];
      if (gligen::layout_to_json(g.layout) != gligen::layout_to_json(document_->toLayout())) {
        document_->loadLayout(g.layout, tr("Keep the best try"));
      }
      canvas_->setGroundingOverlay(g.check);
      preview_->setImage(g.image);
      preview_->setCaption(tr("kept try %1").arg(best));
    }
    const QString text = fraction >= 1.0
                             ? tr("All boxes found on try %1 of %2 (seed %3).").arg(best).arg(tries).arg(seed)
                             : tr("Kept try %1 of %2 (seed %3): %4% of the boxes found.")
                                   .arg(best)
                                   .arg(tries)
                                   .arg(seed)
                                   .arg(qRound(fraction * 100));
    panel_->setStatus(text);
    statusBar()->showMessage(text, 12000);
    Q_EMIT generationFinished(true);
  });
  connect(job_, &GenerationJob::detectorLoaded, this, [this](const QString& folder) {
    if (!folder.isEmpty()) statusBar()->showMessage(tr("Grounding check on: detector %1.").arg(folder), 8000);
    Q_EMIT detectorReady(true, folder);
  });
  connect(job_, &GenerationJob::detectorFailed, this, [this](const QString& message) {
    detector_folder_.clear();
    settings_.detectorFolder.set(QString());
    qWarning("gligen-studio: cannot load the detector: %s", qPrintable(message));
    Q_EMIT detectorReady(false, message);
    // Window-modal but not blocking: the event loop (and whoever waits on detectorReady) goes on.
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot load the detector"),
                                tr("The grounding check is off: %1\n\nChoose a Grounding DINO folder (config.json, "
                                   "model.safetensors, vocab.txt) in Generate > Grounding Check.")
                                    .arg(message),
                                QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });
  connect(job_, &GenerationJob::generationFailed, this, [this](const QString& message) {
    setBusy(false);
    panel_->setStatus(tr("Generation failed."));
    Q_EMIT generationFailed(message);
    Q_EMIT generationFinished(false);
    QMessageBox::warning(this, tr("Generation failed"), message);
  });
  connect(job_, &GenerationJob::generationCancelled, this, [this]() {
    preview_->setCaption(tr("cancelled"));
    setBusy(false);
    panel_->setStatus(tr("Cancelled."));
    statusBar()->showMessage(tr("Generation cancelled."), 5000);
    Q_EMIT generationFinished(false);
  });
  connect(job_, &GenerationJob::demoModelCreated, this, [this](const QString& folder) {
    statusBar()->showMessage(tr("Demo model written to %1 (random weights: it makes noise).").arg(folder), 8000);
    loadModel({folder, QString()});
  });
  connect(job_, &GenerationJob::demoModelFailed, this,
          [this](const QString& message) { QMessageBox::warning(this, tr("Cannot create the demo model"), message); });
}

bool MainWindow::loadModel(const RecentModel& m, bool quiet) {
  if (generating_ || loading_) return false;
  const gligen::ModelFolderReport report = gligen::inspect_model_folder(m.folder.toStdString(), m.unet.toStdString());
  if (!report.ok()) {
    const QString text = tr("%1 cannot be loaded:\n%2").arg(m.folder, QString::fromStdString(report.describe()));
    if (quiet)
      statusBar()->showMessage(text.section(QLatin1Char('\n'), 0, 1), 10000);
    else
      QMessageBox::warning(this, tr("Cannot load the model"), text);
    return false;
  }
  loading_ = true;
  panel_->setModelDescription(tr("Loading <b>%1</b> …").arg(QFileInfo(m.folder).fileName().toHtmlEscaped()), false);
  const QString device = panel_->device(), precision = panel_->precision();
  GenerationJob* job = job_;
  QMetaObject::invokeMethod(
      job_, [job, m, device, precision]() { job->loadModel(m.folder, m.unet, device, precision); },
      Qt::QueuedConnection);
  return true;
}

void MainWindow::createDemoModel(const QString& folder) {
  GenerationJob* job = job_;
  statusBar()->showMessage(tr("Writing a tiny demo model to %1 …").arg(folder));
  QMetaObject::invokeMethod(
      job_, [job, folder]() { job->createDemoModel(folder); }, Qt::QueuedConnection);
}

void MainWindow::generate() {
  if (generating_) return;
  if (!model_) {
    if (loading_)
      statusBar()->showMessage(tr("The model is still loading; generate when it is ready."), 5000);
    else
      showModelDialog();
    return;
  }
  gligen::Layout layout = document_->toLayout();
  // Every enabled box needs a phrase: point at the first one that has none.
  for (const LayoutBox& b : document_->boxes()) {
    if (b.enabled && b.phrase.trimmed().isEmpty()) {
      document_->setSelectedIds({b.id});
      box_list_->editPhrase(b.id);
      statusBar()->showMessage(
          tr("Box %1 has no phrase: type what it should contain, or disable it.").arg(document_->indexOfBox(b.id) + 1),
          8000);
      return;
    }
  }
  if (!layout.inpaint_image.empty() && !model_->inpainting) {
    layout.inpaint_image.clear();
    statusBar()->showMessage(tr("The background image is only used by inpainting models; this model ignores it."),
                             8000);
  } else if (layout.inpaint_image.empty() && model_->inpainting) {
    QMessageBox::information(this, tr("Background image needed"),
                             tr("This is a grounded inpainting model: set the image to paint into with "
                                "File > Set Background Image. The boxes mark the regions to repaint."));
    return;
  }
  if (panel_->seedMode() == SeedMode::Random)
    layout.seed.reset();
  else if (!layout.seed)
    layout.seed = 0;
  try {
    gligen::validate_layout(layout, "the layout");
  } catch (const gligen::Error& e) {
    QMessageBox::warning(this, tr("Cannot generate"), QString::fromStdString(e.what()));
    return;
  }
  setBusy(true);
  panel_->setStatus(tr("Generating…"));
  GenerationJob* job = job_;
  if (until_grounded_) {
    const int tries = grounding_tries_;
    panel_->setStatus(tr("Generating until grounded (up to %1 tries)…").arg(tries));
    QMetaObject::invokeMethod(
        job_, [job, layout, tries]() { job->generateUntilGrounded(layout, tries); }, Qt::QueuedConnection);
    return;
  }
  QMetaObject::invokeMethod(
      job_, [job, layout]() { job->generate(layout); }, Qt::QueuedConnection);
}

void MainWindow::resizeEvent(QResizeEvent* event) {
  QMainWindow::resizeEvent(event);
  // When the window gets short, Results gives up height before the layout and Generate do.
  QTimer::singleShot(0, this, [this]() {
    if (!results_dock_->isVisible() || results_dock_->isFloating()) return;
    const int wanted = kMinimumCentralHeight, central = centralWidget()->height();
    if (central >= wanted) return;
    const int dock = results_dock_->height();
    const int target = std::max(results_dock_->minimumSizeHint().height(), dock - (wanted - central));
    if (target < dock) resizeDocks({results_dock_}, {target}, Qt::Vertical);
  });
}

void MainWindow::generateUntilGrounded() {
  if (generating_) return;
  if (detector_folder_.isEmpty()) {
    QMessageBox::information(this, tr("No detector set"),
                             tr("Generate Until Grounded checks every image with a Grounding DINO detector. "
                                "Choose its folder first."));
    showGroundingCheckDialog();
    if (detector_folder_.isEmpty()) return;
  }
  // generate() validates and sends the layout; route it to the reseeding job instead.
  until_grounded_ = true;
  generate();
  until_grounded_ = false;
}

void MainWindow::setGroundingCheck(const QString& detectorFolder, double iouThreshold, int tries) {
  detector_folder_ = detectorFolder;
  check_iou_ = iouThreshold;
  grounding_tries_ = std::max(1, tries);
  settings_.detectorFolder.set(detectorFolder);
  settings_.checkIouPercent.set(qRound(iouThreshold * 100));
  settings_.groundingTries.set(grounding_tries_);
  GenerationJob* job = job_;
  QMetaObject::invokeMethod(
      job_, [job, detectorFolder, iouThreshold]() { job->setDetector(detectorFolder, iouThreshold); },
      Qt::QueuedConnection);
}

void MainWindow::showGroundingCheckDialog() {
  QDialog dialog(this);
  dialog.setWindowTitle(tr("Grounding Check"));
  auto* form = new QFormLayout;
  auto* intro =
      new QLabel(tr("After each image, a Grounding DINO detector looks for every box's phrase and the "
                    "result shows which boxes came out (green) and which did not (red). Generate Until "
                    "Grounded tries new seeds until all boxes are found."));
  intro->setWordWrap(true);
  auto* folder = new QLineEdit(detector_folder_);
  folder->setPlaceholderText(tr("no detector: the check is off"));
  folder->setMinimumWidth(360);
  auto* browse = new QPushButton(tr("Browse…"));
  auto* row = new QHBoxLayout;
  row->addWidget(folder, 1);
  row->addWidget(browse);
  auto* iou = new QDoubleSpinBox;
  iou->setRange(0.05, 1.0);
  iou->setSingleStep(0.05);
  iou->setValue(check_iou_);
  auto* tries = new QSpinBox;
  tries->setRange(1, 64);
  tries->setValue(grounding_tries_);
  form->addRow(tr("Detector folder:"), row);
  form->addRow(tr("Found when IoU ≥"), iou);
  form->addRow(tr("Tries (until grounded):"), tries);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  auto* layout = new QVBoxLayout(&dialog);
  layout->addWidget(intro);
  layout->addLayout(form);
  layout->addWidget(buttons);
  connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  connect(browse, &QPushButton::clicked, &dialog, [&dialog, folder]() {
    const QString dir = QFileDialog::getExistingDirectory(&dialog, tr("Grounding DINO folder"), folder->text());
    if (!dir.isEmpty()) folder->setText(dir);
  });
  if (dialog.exec() != QDialog::Accepted) return;
  const QString dir = folder->text().trimmed();
  if (!dir.isEmpty() && !QFileInfo(QDir(dir).filePath(QStringLiteral("config.json"))).exists()) {
    QMessageBox::warning(this, tr("Not a detector folder"),
                         tr("%1 has no config.json: choose the folder of a Grounding DINO model "
                            "(e.g. IDEA-Research/grounding-dino-base as downloaded).")
                             .arg(dir));
    return;
  }
  setGroundingCheck(dir, iou->value(), tries->value());
}

void MainWindow::cancelGeneration() {
  if (!generating_) return;
  job_->cancel();  // thread-safe; the job stops before its next step
  panel_->setStatus(tr("Cancelling…"));
}

void MainWindow::setBusy(bool generating) {
  generating_ = generating;
  panel_->setGenerating(generating);
  generate_->setEnabled(!generating);
  cancel_->setEnabled(generating);
}

// --- files ---------------------------------------------------------------------------------

bool MainWindow::openLayoutFile(const QString& path) {
  try {
    gligen::Layout layout;
    if (path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) {
      const auto text = gligen::read_png_text(path.toStdString());
      const auto it = text.find(gligen::kLayoutPngKey);
      if (it == text.end())
        throw gligen::Error(tr("%1 holds no GLIGEN layout: only PNGs saved by GLIGEN Studio or gligen-trainer "
                               "do. To paint into this image, use File > Set Background Image.")
                                .arg(QFileInfo(path).fileName())
                                .toStdString());
      layout = gligen::layout_from_json(it->second, path.toStdString());
    } else {
      layout = gligen::read_layout_file(path.toStdString());
    }
    document_->loadLayout(layout, tr("Open %1").arg(QFileInfo(path).fileName()));
    layout_path_ = path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive) ? path : QString();
    if (!layout_path_.isEmpty()) {
      // Save must not turn someone's diffusers JSON into our format behind their back: it asks
      // for a file instead (File > Save as Diffusers JSON writes that form).
      QFile f(path);
      if (f.open(QIODevice::ReadOnly) && gligen::is_diffusers_layout_json(f.readAll().toStdString())) {
        layout_path_.clear();
        statusBar()->showMessage(tr("Read %1 as a diffusers call. Save asks for a new layout file; File > Save as "
                                    "Diffusers JSON writes that form again.")
                                     .arg(QFileInfo(path).fileName()),
                                 10000);
      }
    }
    document_name_ = QFileInfo(path).fileName();
    document_->undoStack()->setClean();
    settings_.lastDirectory.set(QFileInfo(path).absolutePath());
    settings_.addRecentLayout(path);
    rebuildRecentMenu();
    statusBar()->showMessage(tr("Opened %1.").arg(path), 6000);
    updateTitle();
    return true;
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Cannot open the file"), QString::fromUtf8(e.what()));
    return false;
  }
}

bool MainWindow::importDatasetForReview(const QString& source, const QString& dataset, const QString& imageRoot) {
  if (QFileInfo::exists(dataset)) {
    QMessageBox::warning(this, tr("Cannot import"),
                         tr("%1 already exists: choose a new file name for the imported dataset.").arg(dataset));
    return false;
  }
  statusBar()->showMessage(tr("Importing %1…").arg(QFileInfo(source).fileName()));
  QPointer<MainWindow> self(this);
  const std::string src = source.toStdString(), db = dataset.toStdString(), root = imageRoot.toStdString();
  QThread* worker = QThread::create([self, src, db, root, dataset]() {
    QString summary, error;
    try {
      auto store = gligen::annotations::AnnotationStore::open_or_create(db);
      gligen::annotations::ImportOptions o;
      o.image_root = root;
      summary = QString::fromStdString(gligen::annotations::import_dataset(*store, src, o).summary());
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(qApp, [self, summary, error, dataset] {
      if (!self) return;
      if (!error.isEmpty()) {
        QMessageBox::warning(self, tr("Cannot import the dataset"), error);
        Q_EMIT self->datasetImported(false, error);
        return;
      }
      self->statusBar()->showMessage(summary, 10000);
      self->openReviewDataset(dataset);
      Q_EMIT self->datasetImported(true, summary);
    });
  });
  connect(worker, &QThread::finished, worker, &QObject::deleteLater);
  worker->start();
  return true;
}

bool MainWindow::openReviewDataset(const QString& path) {
  auto* review = findChild<ReviewPanel*>();
  if (review == nullptr) {
    // Its own window: review needs room (image list, viewer, editor) that a dock would take from
    // the canvas, and on a 1280x800 screen it fits beside nothing else.
    review = new ReviewPanel(this);
    review->setWindowFlag(Qt::Window);
    review->setObjectName(QStringLiteral("review_window"));
    review->resize(1240, 740);
    // "Open as layout": the image's accepted boxes and captions become the canvas layout.
    connect(review, &ReviewPanel::openAsLayoutRequested, this, [this](const gligen::Layout& layout) {
      // The image's prompt, boxes and photo replace the canvas content; the generation settings
      // (steps, seed, size, sampler, model) stay as the user set them.
      gligen::Layout merged = document_->toLayout();
      merged.prompt = layout.prompt;
      merged.boxes = layout.boxes;
      merged.inpaint_image = layout.inpaint_image;
      document_->loadLayout(merged, tr("Open annotated image as layout"));
      canvas_->fitToView();
      const int kept = document_->boxCount();
      QString note = kept == 1 ? tr("Opened 1 accepted box as the layout")
                               : tr("Opened %1 accepted boxes as the layout").arg(kept);
      if (kept < int(layout.boxes.size())) note += tr("; %1 left out").arg(int(layout.boxes.size()) - kept);
      if (!layout.inpaint_image.empty())
        note += model_ && model_->inpainting ? tr("; the photo is the background to paint into")
                                             : tr("; the photo is shown behind the boxes (an inpainting model "
                                                  "paints into it)");
      statusBar()->showMessage(note + QLatin1Char('.'), 10000);
    });
    connect(review, &ReviewPanel::message, this, [this](const QString& m) { statusBar()->showMessage(m, 5000); });
    connect(this, &MainWindow::modelReady, review, [this, review] { review->setTextEncoderModel(model_->folder); });
  }
  if (model_) review->setTextEncoderModel(model_->folder);
  QString error;
  if (!review->openDataset(path, &error)) {
    QMessageBox::warning(this, tr("Cannot open the dataset"), error);
    return false;
  }
  review_dataset_ = QFileInfo(path).absoluteFilePath();
  if (dashboard_) dashboard_->setStudioContext(model_ ? model_->folder : QString(), review_dataset_);
  review->setWindowTitle(tr("Review — %1 — GLIGEN Studio").arg(QFileInfo(path).fileName()));
  review->show();
  review->raise();
  review->activateWindow();
  settings_.lastDirectory.set(QFileInfo(path).absolutePath());
  return true;
}

bool MainWindow::openExample(const QString& resourcePath) {
  QFile f(resourcePath);
  if (!f.open(QIODevice::ReadOnly)) return false;
  try {
    const gligen::Layout layout = gligen::layout_from_json(f.readAll().toStdString(), resourcePath.toStdString());
    document_->loadLayout(layout, tr("Open example"));
    canvas_->fitToView();
    return true;
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Cannot open the example"), QString::fromUtf8(e.what()));
    return false;
  }
}

void MainWindow::openLayoutDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open Layout or Image"), settings_.lastDirectory.get(),
                                                    tr("Layouts and GLIGEN images (*.json *.png);;All files (*)"));
  if (!path.isEmpty() && maybeSaveLayout()) openLayoutFile(path);
}

QString MainWindow::askSavePath(const QString& title, const QString& suggestedName, const QString& filter) {
  const QString start = QDir(settings_.lastDirectory.get().isEmpty() ? QDir::homePath() : settings_.lastDirectory.get())
                            .filePath(suggestedName);
  const QString path = QFileDialog::getSaveFileName(this, title, start, filter);
  if (!path.isEmpty()) settings_.lastDirectory.set(QFileInfo(path).absolutePath());
  return path;
}

void MainWindow::saveLayoutDialog() {
  QString suggested = layout_path_.isEmpty() ? QStringLiteral("layout.json") : QFileInfo(layout_path_).fileName();
  if (layout_path_.isEmpty() && !document_name_.isEmpty())
    suggested = QFileInfo(document_name_).completeBaseName() + QStringLiteral(".json");
  QString path = askSavePath(tr("Save Layout As"), suggested, tr("Layout (*.json)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) path += QStringLiteral(".json");
  writeLayout(path);
}

void MainWindow::copyDiffusersCall() {
  const auto call = gligen::layout_to_diffusers(document_->toLayout());
  QGuiApplication::clipboard()->setText(QString::fromStdString(call.python));
  QString message = tr("Copied a Python call of diffusers' StableDiffusionGLIGENPipeline for this layout.");
  for (const auto& n : call.notes) message += QStringLiteral(" ") + tr("Note: %1.").arg(QString::fromStdString(n));
  statusBar()->showMessage(message, 12000);
}

void MainWindow::saveDiffusersJson() {
  const QString base =
      document_name_.isEmpty() ? QStringLiteral("layout") : QFileInfo(document_name_).completeBaseName();
  QString path = askSavePath(tr("Save as Diffusers JSON"), base + QStringLiteral("-diffusers.json"),
                             tr("Diffusers keyword arguments (*.json)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) path += QStringLiteral(".json");
  const auto call = gligen::layout_to_diffusers(document_->toLayout());
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly) || f.write(QByteArray::fromStdString(call.kwargs_json + "\n")) < 0 || !f.commit()) {
    QMessageBox::warning(this, tr("Save as Diffusers JSON"),
                         tr("Could not write %1: %2").arg(QDir::toNativeSeparators(path), f.errorString()));
    return;
  }
  QString message = tr("Saved %1: pass it to the pipeline as keyword arguments (pipe(**kwargs), without \"seed\").")
                        .arg(QFileInfo(path).fileName());
  for (const auto& n : call.notes) message += QStringLiteral(" ") + tr("Note: %1.").arg(QString::fromStdString(n));
  statusBar()->showMessage(message, 12000);
}

void MainWindow::saveLayout() {
  if (layout_path_.isEmpty())
    saveLayoutDialog();
  else
    writeLayout(layout_path_);
}

void MainWindow::newLayout() {
  if (!maybeSaveLayout()) return;
  gligen::Layout fresh = document_->toLayout();  // keeps the model, size and sampler settings
  fresh.prompt.clear();
  fresh.negative_prompt.clear();
  fresh.boxes.clear();
  fresh.seed.reset();
  document_->loadLayout(fresh, tr("New layout"));
  document_->undoStack()->clear();
  layout_path_.clear();
  document_name_.clear();
  updateTitle();
}

void MainWindow::rebuildRecentMenu() {
  if (!recent_menu_) return;
  recent_menu_->clear();
  const QStringList recent = settings_.recentLayouts.get();
  for (const QString& path : recent) {
    QAction* a = recent_menu_->addAction(QFileInfo(path).fileName(), this, [this, path]() {
      if (!maybeSaveLayout()) return;
      openLayoutFile(path);
    });
    a->setToolTip(path);
    a->setStatusTip(path);
  }
  if (recent.isEmpty()) recent_menu_->addAction(tr("(no layouts yet)"))->setEnabled(false);
  recent_menu_->addSeparator();
  recent_menu_
      ->addAction(tr("Clear List"), this,
                  [this]() {
                    settings_.recentLayouts.set({});
                    rebuildRecentMenu();
                  })
      ->setEnabled(!recent.isEmpty());
}

bool MainWindow::writeLayout(const QString& path) {
  try {
    gligen::write_layout_file(path.toStdString(), document_->toLayout());
    layout_path_ = path;
    document_name_ = QFileInfo(path).fileName();
    document_->undoStack()->setClean();
    settings_.addRecentLayout(path);
    rebuildRecentMenu();
    updateTitle();
    statusBar()->showMessage(tr("Saved %1.").arg(path), 6000);
    return true;
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Cannot save the layout"), QString::fromUtf8(e.what()));
    return false;
  }
}

void MainWindow::saveImageDialog(int index) {
  if (index < 0 || index >= gallery_->results().size()) return;
  const GeneratedImage& g = gallery_->results()[index];
  const QString name = ResultsGallery::suggestedFileName(g);
  QString path = askSavePath(tr("Save Image"), name, tr("PNG image with its layout (*.png)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)) path += QStringLiteral(".png");
  try {
    gallery_->savePng(index, path);
    statusBar()->showMessage(tr("Saved %1 (File > Open restores its layout).").arg(path), 6000);
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Cannot save the image"), QString::fromUtf8(e.what()));
  }
}

void MainWindow::chooseBackgroundImage() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Background Image (for grounded inpainting)"),
                                   settings_.lastDirectory.get(), tr("Images (*.png *.jpg *.jpeg *.webp *.bmp)"));
  if (path.isEmpty()) return;
  GenerationSettings s = document_->settings();
  s.inpaintImage = path;
  document_->undoStack()->push(new ChangeSettings(document_, s, tr("Set background image")));
}

void MainWindow::clearBackgroundImage() {
  GenerationSettings s = document_->settings();
  s.inpaintImage.clear();
  document_->undoStack()->push(new ChangeSettings(document_, s, tr("Clear background image")));
}

// --- session -------------------------------------------------------------------------------

void MainWindow::showModelDialog() {
  if (generating_ || loading_) return;
  ModelDialog dialog(settings_.recentModels(), this);
  if (model_) dialog.setFolder(model_->folder, model_->unet);
  connect(&dialog, &ModelDialog::createDemoModelRequested, this, &MainWindow::createDemoModel);
  if (dialog.exec() == QDialog::Accepted) loadModel(dialog.chosenModel());
}

void MainWindow::restoreSession() {
  restoreGeometry(settings_.windowGeometry.get());
  restoreState(settings_.windowState.get());
  splitter_->restoreState(settings_.splitterState.get());
  const QVector<RecentModel> recent = settings_.recentModels();
  if (settings_.reopenLastModel.get() && !recent.isEmpty()) loadModel(recent.front(), /*quiet=*/true);
}

TrainingDashboard* MainWindow::trainingDashboard() {
  if (dashboard_) return dashboard_;
  TrainingDashboard::Options options;
  options.tinyModelFolder = ModelDialog::defaultDemoFolder();
  dashboard_ = new TrainingDashboard(options, this);
  dashboard_->setStudioContext(model_ ? model_->folder : QString(), review_dataset_);
  dashboard_->setWindowFlag(Qt::Window);
  const QByteArray geometry = settings_.dashboardGeometry.get();
  if (!geometry.isEmpty()) dashboard_->restoreGeometry(geometry);
  connect(dashboard_, &TrainingDashboard::message, this,
          [this](const QString& m) { statusBar()->showMessage(m, 8000); });
  connect(dashboard_, &TrainingDashboard::generateWithCheckpoint, this,
          [this](const QString& model, const QString& unet) {
            raise();
            activateWindow();
            if (loadModel(RecentModel{model, unet}))
              statusBar()->showMessage(tr("Loading %1 with %2 …").arg(model, unet), 8000);
          });
  // "Open in Review" on a dataset job: the same path as File > Open Dataset for Review….
  connect(dashboard_, &TrainingDashboard::openDatasetForReview, this,
          [this](const QString& db) { openReviewDataset(db); });
  connect(dashboard_, &TrainingDashboard::openImage, this, [this](const QString& path) {
    raise();
    activateWindow();
    openLayoutFile(path);
  });
  return dashboard_;
}

void MainWindow::showTrainingDashboard() {
  TrainingDashboard* d = trainingDashboard();
  d->show();
  d->raise();
  d->activateWindow();
}

bool MainWindow::maybeSaveLayout() {
  if (document_->undoStack()->isClean()) return true;
  const QString name = document_name_.isEmpty() ? tr("Untitled layout") : document_name_;
  QMessageBox box(QMessageBox::Warning, tr("Unsaved layout"), tr("Save the changes to “%1” before closing?").arg(name),
                  QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
  box.setInformativeText(tr("Your boxes, phrases and settings are lost if you don't save them."));
  box.setDefaultButton(QMessageBox::Save);
  box.setObjectName(QStringLiteral("unsavedLayoutBox"));
  switch (box.exec()) {
    case QMessageBox::Save:
      saveLayout();
      return document_->undoStack()->isClean();  // the file dialog may have been cancelled
    case QMessageBox::Discard: return true;
    default: return false;
  }
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!maybeSaveLayout()) {
    event->ignore();
    return;
  }
  if (dashboard_ && dashboard_->runningCount() > 0) {
    const int n = dashboard_->runningCount();
    const auto answer = QMessageBox::question(
        this, tr("Training is running"),
        tr("%n training job(s) are running. Stop them and quit? Each finishes its step and writes a checkpoint; "
           "resume later from the dashboard.",
           nullptr, n),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
    statusBar()->showMessage(tr("Stopping training: writing checkpoints…"));
    if (!dashboard_->stopAllAndWait(120000)) {
      QMessageBox::warning(this, tr("Training is still running"),
                           tr("A job did not stop within 2 minutes; it will be killed. Its last complete checkpoint "
                              "is kept."));
    }
  }
  if (dashboard_) settings_.dashboardGeometry.set(dashboard_->saveGeometry());
  if (generating_) job_->cancel();
  settings_.windowGeometry.set(saveGeometry());
  settings_.windowState.set(saveState());
  settings_.splitterState.set(splitter_->saveState());
  settings_.seedMode.set(int(panel_->seedMode()));
  QMainWindow::closeEvent(event);
}

QString MainWindow::snapStatus() const { return snap_label_ ? snap_label_->text() : QString(); }

void MainWindow::updateTitle() {
  const QString name = document_name_.isEmpty() ? tr("Untitled layout") : document_name_;
  setWindowTitle(
      tr("%1%2 — GLIGEN Studio").arg(name, document_->undoStack()->isClean() ? QString() : QStringLiteral("*")));
}

void MainWindow::showAbout() {
  QMessageBox::about(this, tr("About GLIGEN Studio"),
                     tr("<b>GLIGEN Studio %1</b><p>Box-grounded image generation with GLIGEN "
                        "(Stable Diffusion 1.4 with gated self-attention grounding).</p>"
                        "<p>Draw boxes, give each a phrase, and generate.</p><p>Engine: %2</p>")
                         .arg(QString::fromLatin1(gligen::version()),
                              QString::fromStdString(gligen::distributed::torch_build().summary()).toHtmlEscaped()));
}

}  // namespace gligen::ui
