#include "ui/dashboard/run_monitor_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <climits>

#include "ui/dashboard/metric_chart.h"

namespace gligen::ui {

RunMonitorPanel::RunMonitorPanel(QWidget* parent) : QWidget(parent) {
  auto* mon = new QVBoxLayout(this);
  mon->setContentsMargins(0, 0, 0, 0);

  // --- header: name, state line, actions, progress ---------------------------------------------
  auto* header = new QHBoxLayout;
  auto* titles = new QVBoxLayout;
  title_ = new QLabel(this);
  QFont big = title_->font();
  big.setPointSizeF(big.pointSizeF() * 1.3);
  big.setBold(true);
  title_->setFont(big);
  title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  // Room for the state line, an error or exit line and the folder: the header keeps its height
  // when a run stops, so the controls below it do not jump.
  status_->setMinimumHeight(status_->fontMetrics().lineSpacing() * 3 + 4);
  titles->addWidget(title_);
  titles->addWidget(status_);
  header->addLayout(titles, 1);
  stop_ = new QPushButton(QStringLiteral("Stop"), this);
  stop_->setToolTip(QStringLiteral("Finish the current step, write a checkpoint and exit"));
  resume_ = new QPushButton(QStringLiteral("Resume"), this);
  resume_->setToolTip(QStringLiteral("Continue from the newest complete checkpoint"));
  copy_command_ = new QPushButton(QStringLiteral("Copy Command"), this);
  copy_command_->setToolTip(QStringLiteral("Copy the command line that runs this job"));
  relaunch_ = new QPushButton(QStringLiteral("Edit and Relaunch…"), this);
  relaunch_->setToolTip(QStringLiteral("Open this run's settings in the job form, change them and launch again"));
  remove_ = new QPushButton(QStringLiteral("Delete…"), this);
  remove_->setToolTip(QStringLiteral("Remove the run from the list, or delete its folder"));
  open_review_ = new QPushButton(QStringLiteral("Open in Review"), this);
  open_review_->setToolTip(QStringLiteral("Open the job's dataset in the studio's review window"));
  open_review_->setVisible(false);
  for (QPushButton* b : {open_review_, stop_, resume_, relaunch_, copy_command_, remove_})
    header->addWidget(b, 0, Qt::AlignTop);
  mon->addLayout(header);
  progress_ = new QProgressBar(this);
  progress_->setTextVisible(true);
  mon->addWidget(progress_);
  connect(stop_, &QPushButton::clicked, this, &RunMonitorPanel::stopClicked);
  connect(resume_, &QPushButton::clicked, this, &RunMonitorPanel::resumeClicked);
  connect(copy_command_, &QPushButton::clicked, this, &RunMonitorPanel::copyCommandClicked);
  connect(relaunch_, &QPushButton::clicked, this, &RunMonitorPanel::relaunchClicked);
  connect(remove_, &QPushButton::clicked, this, &RunMonitorPanel::removeClicked);
  connect(open_review_, &QPushButton::clicked, this, &RunMonitorPanel::openInReviewClicked);

  // --- chart toolbar ---------------------------------------------------------------------------
  auto* chartBar = new QHBoxLayout;
  chartBar->addWidget(new QLabel(QStringLiteral("Compare with:"), this));
  compare_box_ = new QComboBox(this);
  compare_box_->setMinimumContentsLength(16);
  chartBar->addWidget(compare_box_);
  log_scale_ = new QCheckBox(QStringLiteral("Log scale"), this);
  log_scale_->setToolTip(QStringLiteral("Logarithmic value axis for loss, learning rate and gradient norm"));
  chartBar->addWidget(log_scale_);
  smoothing_label_ = new QLabel(QStringLiteral("Smoothing:"), this);
  chartBar->addWidget(smoothing_label_);
  auto* smoothing = new QSlider(Qt::Horizontal, this);
  smoothing_ = smoothing;
  smoothing->setRange(0, 99);
  smoothing->setValue(90);
  smoothing->setMaximumWidth(140);
  smoothing->setToolTip(QStringLiteral("Exponential moving average of the loss (0: raw only)"));
  chartBar->addWidget(smoothing);
  auto* fit = new QPushButton(QStringLiteral("Fit"), this);
  fit->setToolTip(QStringLiteral("Show the whole run and follow new steps (or double-click a chart)"));
  chartBar->addWidget(fit);
  chartBar->addStretch(1);
  legend_ = new QLabel(this);
  chartBar->addWidget(legend_);
  mon->addLayout(chartBar);

  // --- charts ----------------------------------------------------------------------------------
  auto* chartArea = new QWidget(this);
  auto* grid = new QGridLayout(chartArea);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(4);
  const RunMetric order[] = {
      RunMetric::Loss,          RunMetric::LearningRate, RunMetric::GradNorm, RunMetric::SamplesPerSecond,
      RunMetric::DataWaitShare, RunMetric::MemoryMb,     RunMetric::GpuUtil};
  for (RunMetric m : order) charts_.push_back(new MetricChart(m, chartArea));
  training_grid_ = grid;
  // The validation checks (the grounding detector's, the shapes hit rate) sit in a column beside
  // the loss when the run has them (setValidationChartsShown).
  validation_column_ = new QWidget(chartArea);
  auto* validationLayout = new QVBoxLayout(validation_column_);
  validationLayout->setContentsMargins(0, 0, 0, 0);
  validationLayout->setSpacing(4);
  grounding_chart_ = new MetricChart(RunMetric::GroundingFound, validation_column_);
  shapes_chart_ = new MetricChart(RunMetric::ShapesHitRate, validation_column_);
  validationLayout->addWidget(grounding_chart_);
  validationLayout->addWidget(shapes_chart_);
  grounding_chart_->hide();
  shapes_chart_->hide();
  validation_column_->hide();
  grid->addWidget(charts_[0], 0, 0, 1, 2);
  grid->addWidget(charts_[1], 0, 2);
  grid->addWidget(charts_[2], 0, 3);
  for (int i = 3; i < 7; ++i) grid->addWidget(charts_[i], 1, i - 3);
  for (int c = 0; c < 4; ++c) grid->setColumnStretch(c, 1);

  // Dataset jobs: speed and detections on top, the seconds of each stage below.
  auto* datasetArea = new QWidget(this);
  auto* dgrid = new QGridLayout(datasetArea);
  dgrid->setContentsMargins(0, 0, 0, 0);
  dgrid->setSpacing(4);
  const RunMetric datasetOrder[] = {RunMetric::ImagesPerSecond, RunMetric::Detections,     RunMetric::TagSeconds,
                                    RunMetric::DetectSeconds,   RunMetric::CaptionSeconds, RunMetric::EmbedSeconds};
  for (int i = 0; i < 6; ++i) {
    auto* c = new MetricChart(datasetOrder[i], datasetArea);
    charts_.push_back(c);
    if (i < 2)
      dgrid->addWidget(c, 0, 2 * i, 1, 2);
    else
      dgrid->addWidget(c, 1, i - 2);
  }
  for (int c = 0; c < 4; ++c) dgrid->setColumnStretch(c, 1);

  chart_stack_ = new QStackedWidget(this);
  chart_stack_->addWidget(chartArea);
  chart_stack_->addWidget(datasetArea);
  mon->addWidget(chart_stack_, 1);

  connect(compare_box_, &QComboBox::activated, this,
          [this](int i) { Q_EMIT compareChosen(compare_box_->itemData(i).toInt()); });
  connect(log_scale_, &QCheckBox::toggled, this, &RunMonitorPanel::setLogScale);
  connect(smoothing, &QSlider::valueChanged, this, [this](int v) { chart(RunMetric::Loss)->setSmoothing(v / 100.0); });
  connect(fit, &QPushButton::clicked, this, [this] {
    for (MetricChart* c : activeCharts()) c->fit();
  });
}

void RunMonitorPanel::setGroundingShown(bool shown) { setValidationChartsShown(shown, shapes_shown_); }

void RunMonitorPanel::setValidationChartsShown(bool grounding, bool shapes) {
  if (grounding == grounding_shown_ && shapes == shapes_shown_) return;
  const bool wasShown = grounding_shown_ || shapes_shown_;
  auto place = [this](MetricChart* chart, bool on) {
    const bool listed = std::find(charts_.begin(), charts_.end(), chart) != charts_.end();
    if (on && !listed) {
      charts_.push_back(chart);
      chart->show();
    } else if (!on && listed) {
      chart->hide();
      chart->setRuns(nullptr, QString());
      charts_.erase(std::remove(charts_.begin(), charts_.end(), chart), charts_.end());
    }
  };
  place(grounding_chart_, grounding);
  place(shapes_chart_, shapes);
  grounding_shown_ = grounding;
  shapes_shown_ = shapes;
  const bool shown = grounding || shapes;
  if (shown == wasShown) return;
  training_grid_->removeWidget(charts_[0]);
  if (shown) {
    training_grid_->addWidget(charts_[0], 0, 0);
    training_grid_->addWidget(validation_column_, 0, 1);
    validation_column_->show();
  } else {
    training_grid_->removeWidget(validation_column_);
    validation_column_->hide();
    training_grid_->addWidget(charts_[0], 0, 0, 1, 2);
  }
}

void RunMonitorPanel::setTitle(const QString& title) { title_->setText(title); }

void RunMonitorPanel::setStatusHtml(const QString& html) { status_->setText(html); }

void RunMonitorPanel::setProgress(qint64 step, qint64 maxSteps) {
  progress_->setRange(0, maxSteps > 0 ? static_cast<int>(std::min<qint64>(maxSteps, INT_MAX)) : 1);
  progress_->setValue(maxSteps > 0 ? static_cast<int>(std::min<qint64>(step, INT_MAX)) : 0);
  progress_->setFormat(maxSteps > 0 ? QStringLiteral("%p%  (%v / %m)") : QStringLiteral("waiting"));
}

void RunMonitorPanel::setActions(const Actions& a) {
  stop_->setEnabled(a.stop);
  if (!a.stopTip.isEmpty()) stop_->setToolTip(a.stopTip);
  resume_->setEnabled(a.resume);
  remove_->setEnabled(a.remove);
  copy_command_->setEnabled(a.copyCommand);
  relaunch_->setEnabled(a.relaunch);
  open_review_->setEnabled(a.openInReview);
  if (!a.openInReviewTip.isEmpty()) open_review_->setToolTip(a.openInReviewTip);
}

void RunMonitorPanel::setDatasetMode(bool on) {
  dataset_mode_ = on;
  chart_stack_->setCurrentIndex(on ? 1 : 0);
  open_review_->setVisible(on);
  log_scale_->setVisible(!on);
  smoothing_label_->setVisible(!on);
  smoothing_->setVisible(!on);
  resume_->setToolTip(on ? QStringLiteral("Run the job again: it continues with the images not done yet")
                         : QStringLiteral("Continue from the newest complete checkpoint"));
  relaunch_->setToolTip(on ? QStringLiteral("Open this job's settings in the job form, change them and run it again")
                           : QStringLiteral("Open this run's settings in the job form, change them and launch again"));
}

std::vector<MetricChart*> RunMonitorPanel::activeCharts() const {
  std::vector<MetricChart*> out;
  for (MetricChart* c : charts_)
    if (isDatasetMetric(c->metric()) == dataset_mode_) out.push_back(c);
  return out;
}

void RunMonitorPanel::setCompareChoices(const QVector<QPair<QString, int>>& runs, int current) {
  compare_box_->clear();
  compare_box_->addItem(QStringLiteral("(none)"), -1);
  for (const auto& [name, index] : runs) compare_box_->addItem(name, index);
  compare_box_->setCurrentIndex(std::max(0, compare_box_->findData(current)));
}

void RunMonitorPanel::setLegendHtml(const QString& html) { legend_->setText(html); }

void RunMonitorPanel::setLogScale(bool on) {
  if (log_scale_->isChecked() != on) log_scale_->setChecked(on);
  for (RunMetric m : {RunMetric::Loss, RunMetric::LearningRate, RunMetric::GradNorm}) chart(m)->setLogScale(on);
}

MetricChart* RunMonitorPanel::chart(RunMetric metric) const {
  for (MetricChart* c : charts_)
    if (c->metric() == metric) return c;
  return nullptr;
}

}  // namespace gligen::ui
