// RunOutputsPanel: what a run has produced, in three tabs: validation images by step (double-click
// opens one in the studio), checkpoints (Generate with This Checkpoint, Resume from Here) and the
// log; for a dataset job, the latest images with their boxes and captions, and the log.
// TrainingDashboard decides what is shown; the panel keeps the selection and the scroll
// position across refreshes and reports the user's clicks as signals.
#pragma once
#include <QDateTime>
#include <QVector>
#include <QWidget>

class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QTabWidget;
class QTreeWidget;

namespace gligen::ui {

class DatasetImageStrip;

class RunOutputsPanel : public QWidget {
  Q_OBJECT
 public:
  struct CheckpointRow {
    QString label;  // the step, or "final"
    QDateTime written;
    QString path;
    qint64 step = -1;  // -1: the final UNet (nothing to resume from)
    QString tooltip;
  };

  explicit RunOutputsPanel(QWidget* parent = nullptr);

  QListWidget* imageStrip() const { return images_; }
  QTreeWidget* checkpointList() const { return checkpoints_; }
  QPlainTextEdit* logView() const { return log_; }
  DatasetImageStrip* datasetStrip() const { return dataset_strip_; }

  // Dataset jobs: the latest-images tab instead of validation images and checkpoints.
  void setDatasetMode(bool on);
  void setDatasetImageCount(qint64 processed);  // the tab's title

  void clearImages();
  void addImage(qint64 step, const QString& path);  // reads a thumbnail
  void setImageCount(int count);                    // the tab's title

  // Replaces the list; the selected path stays selected, else the first row is.
  void setCheckpoints(const QVector<CheckpointRow>& rows);
  bool hasSelectedCheckpoint() const;
  QString selectedCheckpointPath() const;
  qint64 selectedCheckpointStep() const;
  void setCheckpointActions(bool canGenerate, bool canResume);

  // Replaces the log text; a view scrolled to the end stays at the end.
  void setLogText(const QString& text);

 Q_SIGNALS:
  void openImage(const QString& path);
  void generateRequested();
  void resumeRequested();
  void checkpointSelectionChanged();

 private:
  QTabWidget* tabs_;
  QListWidget* images_;
  QTreeWidget* checkpoints_;
  QPushButton* generate_;
  QPushButton* resume_;
  QPlainTextEdit* log_;
  DatasetImageStrip* dataset_strip_;
  QWidget* checkpoint_page_;
};

}  // namespace gligen::ui
