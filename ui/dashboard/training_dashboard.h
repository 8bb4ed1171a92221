// TrainingDashboard: launch, monitor and compare training runs.
// Left: the runs (launched here, or attached run folders from a cluster or a shell), kept across
// restarts. Right: the selected run: state, progress and ETA, live charts (loss raw + smoothed,
// lr, samples/s, data-wait share, memory, GPU utilisation or gradient norm), another run
// overlaid for comparison, validation images by step, checkpoints (generate with one, resume
// from one), and the log. Stop is graceful (the trainer checkpoints, then exits).
// Everything shown comes from the run folder (RunFollower) and the process's exit status
// (TrainingJobRunner), so a run started elsewhere looks the same.
// Dataset jobs (`gligen-trainer make-dataset`, run.json "command": "make-dataset") are launched
// and followed the same way; they are marked in the list, and show their own charts (images/s,
// seconds per stage, detections per image), the latest images with boxes and captions, and
// Open in Review (the dataset in the studio's review window).
#pragma once
#include <QPointer>
#include <QWidget>
#include <memory>
#include <vector>

#include "ui/jobs/run_history.h"
#include "ui/studio/studio_settings.h"

class QLabel;
class QListWidget;
class QPlainTextEdit;
class QTimer;
class QTreeWidget;

namespace gligen::ui {

class MetricChart;
class RunFollower;
class RunListPanel;
class RunMonitorPanel;
class RunOutputsPanel;
class DatasetImageStrip;
class TrainingJobRunner;
struct DatasetJobSpec;
struct TrainingJobSpec;

class TrainingDashboard : public QWidget {
  Q_OBJECT
 public:
  struct Options {
    QString trainerProgram;   // empty: TrainingJobRunner::defaultTrainerProgram()
    bool persistRuns = true;  // remember the run list in the settings (off for tests)
    int pollIntervalMs = 250;
    QString tinyModelFolder;  // what the "CPU smoke run" preset trains (the studio's demo model)
  };
  explicit TrainingDashboard(QWidget* parent = nullptr) : TrainingDashboard(Options{}, parent) {}
  explicit TrainingDashboard(const Options& options, QWidget* parent = nullptr);
  ~TrainingDashboard() override;

  // Launches a job; returns its index in the run list, or -1 (the reason goes to message()).
  int launch(const TrainingJobSpec& spec);
  int launchDataset(const DatasetJobSpec& spec);
  // Whether the run is a dataset job, and its dataset database ("" when unknown).
  bool isDatasetJob(int index) const;
  QString datasetOf(int index) const;
  // Emits openDatasetForReview with the job's database (a message instead when it does not exist yet).
  void openInReview(int index);
  // Follows an existing run folder; returns its index (an already listed folder is selected).
  int attach(const QString& runDirectory);
  void stopRun(int index);
  // Starts the run again from `checkpoint` ("latest" or a folder) in the same run folder.
  int resumeRun(int index, const QString& checkpoint = QStringLiteral("latest"));
  // Starts a new run (a branch) in a new folder beside the run's, from one of its checkpoints;
  // the original run keeps its later checkpoints and final UNet. Returns the new run's index.
  int branchRun(int index, const QString& checkpoint, qint64 step);
  // Removes the run from the list; with deleteFolder also deletes the run folder. `ask`: confirm
  // with the user first. A running job is never deleted.
  bool removeRun(int index, bool deleteFolder, bool ask = true);
  // Sends every running job SIGTERM and waits (event loop running) for them to checkpoint and
  // exit; true when all exited within the time.
  bool stopAllAndWait(int timeoutMs);

  int runCount() const { return static_cast<int>(runs_.size()); }
  int runningCount() const;
  int currentRun() const;
  void selectRun(int index);
  void setCompareRun(int index);  // -1: none
  const RunFollower* follower(int index) const;
  TrainingJobRunner* runner(int index) const;
  QString runDirectory(int index) const;
  MetricChart* chart(RunMetric metric) const;
  QTreeWidget* checkpointList() const;
  QListWidget* imageStrip() const;
  QPlainTextEdit* logView() const;
  QLabel* statusLabel() const;
  DatasetImageStrip* datasetStrip() const;
  RunMonitorPanel* monitorPanel() const { return monitor_panel_; }
  void setLogScale(bool on);

  // What the studio has open: New Job starts from this model and dataset when no run is selected.
  void setStudioContext(const QString& modelFolder, const QString& datasetPath);
  // The settings the New Job form starts with: the selected run's (a variation of it, in a new
  // folder), else the studio's model and dataset.
  TrainingJobSpec newJobSpec() const;
  // Edit and Relaunch: the run's own settings, same folder, in the form.
  void editAndRelaunch(int index);

 public Q_SLOTS:
  void newJobDialog();
  void newDatasetJobDialog();  // the same dialog, on the dataset-job page
  void attachDialog();
  void refreshNow();  // polls every run at once (tests)

 Q_SIGNALS:
  // "Generate with this checkpoint": the model folder and the checkpoint (or trained UNet) folder.
  void generateWithCheckpoint(const QString& modelFolder, const QString& unetFolder);
  void openImage(const QString& path);  // a validation image (its PNG carries the layout)
  // "Open in Review" on a dataset job: the annotation database to review.
  void openDatasetForReview(const QString& databasePath);
  void message(const QString& text);  // for the status bar: launch problems, exits, warnings

 private:
  struct Run;
  Run* run(int index) const;
  int addRun(const QString& dir);
  bool startJob(Run& r, const TrainingJobSpec& spec);
  bool startProcess(Run& r, const QStringList& args, const QMap<QString, QString>& env, const QString& command);
  void syncMode();  // the monitor's training or dataset layout, for the run shown
  void onRunChanged(Run* r);
  void updateRunItem(int index);
  void showRun(int index);
  void updateHeader();
  void updateCharts();
  void scheduleCharts();  // coalesced: at most one chart update per interval
  void updateImages();
  void updateCheckpoints();
  void updateLog();
  void updateCompareChoices();
  void saveRunList();
  void restoreRunList();
  QString modelFolderOf(const Run& r) const;
  void generateFromSelectedCheckpoint();
  void resumeFromSelectedCheckpoint();

  void confirmAndRemove(int index);
  void runNewJobDialog(bool datasetPage);
  void copyCommand(int index);

  Options options_;
  StudioSettings settings_;
  std::vector<std::unique_ptr<Run>> runs_;
  int compare_ = -1;
  QString context_model_, context_dataset_;
  int charts_mode_ = -1;  // 0: training charts drawn, 1: dataset charts

  RunListPanel* run_list_;
  RunMonitorPanel* monitor_panel_;
  RunOutputsPanel* outputs_;
  QTimer* chart_timer_;
  QWidget* monitor_;
  QLabel* placeholder_;
};

}  // namespace gligen::ui
