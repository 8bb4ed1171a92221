// RunMonitorPanel: the selected run's header (name, state line, progress bar, Stop / Resume /
// Copy Command / Delete) and its live charts with their toolbar (compare with another run, log
// scale, loss smoothing, fit, legend). It shows what TrainingDashboard gives it and reports the
// user's clicks as signals. A dataset job (make-dataset) gets its own charts (images/s, seconds
// per stage, detections per image) and an Open in Review button instead of the training ones.
#pragma once
#include <QVector>
#include <QWidget>
#include <vector>

#include "ui/jobs/run_history.h"

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;
class QProgressBar;
class QPushButton;
class QStackedWidget;

namespace gligen::ui {

class MetricChart;

class RunMonitorPanel : public QWidget {
  Q_OBJECT
 public:
  struct Actions {
    bool stop = false, resume = false, remove = false, copyCommand = false, relaunch = false;
    bool openInReview = false;
    QString stopTip, openInReviewTip;
  };

  explicit RunMonitorPanel(QWidget* parent = nullptr);

  void setTitle(const QString& title);
  void setStatusHtml(const QString& html);
  QLabel* statusLabel() const { return status_; }
  // maxSteps <= 0: waiting for the first event.
  void setProgress(qint64 step, qint64 maxSteps);
  void setActions(const Actions& actions);
  // The runs offered for comparison (name, run index), and the one chosen (-1: none).
  void setCompareChoices(const QVector<QPair<QString, int>>& runs, int current);
  void setLegendHtml(const QString& html);
  void setLogScale(bool on);
  // Dataset jobs: their charts, Open in Review, no log scale or smoothing.
  void setDatasetMode(bool on);
  bool datasetMode() const { return dataset_mode_; }

  MetricChart* chart(RunMetric metric) const;
  const std::vector<MetricChart*>& charts() const { return charts_; }
  // The charts of the current mode (training or dataset).
  std::vector<MetricChart*> activeCharts() const;
  // Shows the validation grounding chart beside the loss (a run trained with --grounding-detector).
  void setGroundingShown(bool shown);
  bool groundingShown() const { return grounding_shown_; }
  // Shows the validation checks' charts in a column beside the loss: the grounding detector's
  // (--grounding-detector) and the shapes hit rate on held-out layouts (--shapes-heldout).
  void setValidationChartsShown(bool grounding, bool shapes);
  bool shapesShown() const { return shapes_shown_; }
  QPushButton* openInReviewButton() const { return open_review_; }

 Q_SIGNALS:
  void stopClicked();
  void resumeClicked();
  void copyCommandClicked();
  void relaunchClicked();
  void removeClicked();
  void openInReviewClicked();
  void compareChosen(int runIndex);  // -1: none

 private:
  QLabel* title_;
  QLabel* status_;
  QProgressBar* progress_;
  QPushButton* stop_;
  QPushButton* resume_;
  QPushButton* remove_;
  QPushButton* copy_command_;
  QPushButton* relaunch_;
  QPushButton* open_review_;
  QComboBox* compare_box_;
  QCheckBox* log_scale_;
  QWidget* smoothing_label_;
  QWidget* smoothing_;
  QStackedWidget* chart_stack_;
  bool dataset_mode_ = false;
  QLabel* legend_;
  std::vector<MetricChart*> charts_;
  QGridLayout* training_grid_ = nullptr;
  QWidget* validation_column_ = nullptr;
  MetricChart* grounding_chart_ = nullptr;
  MetricChart* shapes_chart_ = nullptr;
  bool grounding_shown_ = false;
  bool shapes_shown_ = false;
};

}  // namespace gligen::ui
