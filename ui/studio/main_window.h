// The studio's main window: box list | layout canvas | generation panel, results below.
// It wires the views to one LayoutDocument and drives the GenerationJob on a worker thread.
#pragma once
#include <QMainWindow>
#include <QThread>
#include <optional>

#include "ui/studio/generation_job.h"
#include "ui/studio/studio_settings.h"

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QSplitter;

namespace gligen::ui {

class BoxListPanel;
class GenerationPanel;
class LayoutCanvas;
class LayoutDocument;
class LivePreview;
class ResultsGallery;
class TrainingDashboard;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  struct Options {
    bool restoreSession = true;  // window geometry and the last model (off for tests/screenshots)
    bool firstRunScreen = true;  // offer the model dialog when no model was ever opened
  };
  explicit MainWindow(QWidget* parent = nullptr) : MainWindow(Options{}, parent) {}
  explicit MainWindow(const Options& options, QWidget* parent = nullptr);
  ~MainWindow() override;

  LayoutDocument* document() const { return document_; }
  LayoutCanvas* canvas() const { return canvas_; }
  GenerationPanel* generationPanel() const { return panel_; }
  ResultsGallery* gallery() const { return gallery_; }
  LivePreview* livePreview() const { return preview_; }
  QString snapStatus() const;  // what the status bar says about the snap grid
  bool modelLoaded() const { return model_.has_value(); }

  // Loads a model off the GUI thread after a quick folder check; problems go to a message box
  // (or the status bar when `quiet`). Returns false when the check fails.
  bool loadModel(const RecentModel& model, bool quiet = false);
  // Opens a layout JSON or a PNG that carries one; returns false (after saying why) otherwise.
  bool openLayoutFile(const QString& path);
  bool writeLayout(const QString& path);  // saves the layout there; it becomes the layout's file
  // The file Save writes to ("" when Save asks: a new layout, an image, a diffusers call).
  QString layoutPath() const { return layout_path_; }
  void copyDiffusersCall();  // the layout as a Python call of diffusers' pipeline, to the clipboard
  void newLayout();          // asks to save unsaved edits first
  QMenu* recentLayoutsMenu() const { return recent_menu_; }
  // Loads one of the examples compiled into the resources (":/gligen/examples/...").
  bool openReviewDataset(const QString& path);  // shows the review panel in a dock
  // Imports a seed .pth (list or per-image) or COCO JSON into a new annotation dataset `dataset`
  // whose images live under `imageRoot` (on a worker thread), then opens it for review. Emits
  // datasetImported when done; false when it could not start.
  bool importDatasetForReview(const QString& source, const QString& dataset, const QString& imageRoot);
  bool openExample(const QString& resourcePath);
  // The training dashboard window (created on first use).
  TrainingDashboard* trainingDashboard();
  void showTrainingDashboard();
  void generate();
  void cancelGeneration();
  // Generate until grounded: up to the set number of tries (seeds s, s+1, ...), each checked by
  // the detector, keeping the best; asks for a detector when none is set.
  void generateUntilGrounded();
  // The grounding check's detector (a Grounding DINO folder; empty: none), IoU threshold and
  // tries; loads the detector on the worker thread. Stored in the settings.
  void setGroundingCheck(const QString& detectorFolder, double iouThreshold, int tries);
  void showGroundingCheckDialog();
  QString detectorFolder() const { return detector_folder_; }

  static QStringList exampleResources();

 Q_SIGNALS:
  void modelReady();
  void modelLoadFailed(const QString& message);
  void generationFinished(bool ok);
  void generationFailed(const QString& message);
  void detectorReady(bool ok, const QString& message);
  void datasetImported(bool ok, const QString& summary);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  void buildActions();
  void buildMenus();
  void connectJob();
  void restoreSession();
  void showModelDialog();
  void createDemoModel(const QString& folder);
  void openLayoutDialog();
  void saveLayoutDialog();   // Save As: always asks for a file
  void saveLayout();         // Save: to the layout's file, or as Save As when it has none
  void saveDiffusersJson();  // the layout as the pipeline's keyword arguments (JSON)
  void rebuildRecentMenu();
  // With unsaved layout edits, asks Save / Discard / Cancel; false when the user cancelled (or
  // the save did not happen), so the caller keeps the window and the edits.
  bool maybeSaveLayout();
  void saveImageDialog(int index);
  void chooseBackgroundImage();
  void clearBackgroundImage();
  void setBusy(bool generating);
  void updateTitle();
  void showAbout();
  QString askSavePath(const QString& title, const QString& suggestedName, const QString& filter);

  StudioSettings settings_;
  LayoutDocument* document_;
  LayoutCanvas* canvas_;
  BoxListPanel* box_list_;
  GenerationPanel* panel_;
  ResultsGallery* gallery_;
  LivePreview* preview_;
  QSplitter* splitter_;
  QDockWidget* results_dock_;
  QLabel* zoom_label_;
  QLabel* snap_label_ = nullptr;
  TrainingDashboard* dashboard_ = nullptr;

  QThread worker_;
  GenerationJob* job_;  // lives on worker_
  std::optional<ModelInfo> model_;
  bool generating_ = false;
  QString detector_folder_;
  double check_iou_ = 0.5;
  int grounding_tries_ = 4;
  bool until_grounded_ = false;
  // Below this height of the central area, the Results dock shrinks first.
  static constexpr int kMinimumCentralHeight = 430;  // generate() sends to generateUntilGrounded
  bool loading_ = false;
  QString layout_path_;    // the .json the layout is saved to ("" until saved)
  QString document_name_;  // what the title shows: the opened or saved file's name
  QMenu* recent_menu_ = nullptr;
  QString review_dataset_;  // the dataset open in the review panel (New Job pre-fills it)

  QAction* undo_ = nullptr;
  QAction* redo_ = nullptr;
  QAction* delete_ = nullptr;
  QAction* duplicate_ = nullptr;
  QAction* snap_ = nullptr;
  QAction* generate_ = nullptr;
  QAction* cancel_ = nullptr;
};

}  // namespace gligen::ui
