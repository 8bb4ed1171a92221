#include "ui/review/review_stats.h"

#include "ui/dashboard/qcustomplot_include.h"

#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace gligen::ui {

using annotations::ReviewStatus;

ReviewStatsWidget::ReviewStatsWidget(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  summary_ = new QLabel(this);
  summary_->setTextFormat(Qt::RichText);
  summary_->setWordWrap(true);
  layout->addWidget(summary_);
  reembed_ = new QPushButton(this);
  reembed_->setToolTip(
      tr("Embed the edited and new captions with the text encoder of the open model, so that "
         "training uses what the captions say now"));
  reembed_->hide();
  connect(reembed_, &QPushButton::clicked, this, &ReviewStatsWidget::reembedRequested);
  layout->addWidget(reembed_, 0, Qt::AlignLeft);
  histogram_note_ = new QLabel(this);
  histogram_note_->setWordWrap(true);
  histogram_note_->setText(
      tr("No box has a detector score: the boxes were drawn or imported without one (seed "
         ".pth files and COCO ground truth have none). Scores come from automatic annotation; "
         "the score filter has nothing to act on here."));
  histogram_note_->hide();
  layout->addWidget(histogram_note_);
  plot_ = new QCustomPlot(this);
  plot_->setMinimumHeight(150);
  plot_->xAxis->setLabel(tr("detector score"));
  plot_->yAxis->setLabel(tr("boxes"));
  plot_->xAxis->setRange(0, 1);
  QFont small = font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  plot_->xAxis->setTickLabelFont(small);
  plot_->yAxis->setTickLabelFont(small);
  plot_->xAxis->setLabelFont(small);
  plot_->yAxis->setLabelFont(small);
  QSharedPointer<QCPAxisTickerFixed> counts(new QCPAxisTickerFixed);
  counts->setTickStep(1.0);
  counts->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);  // whole numbers of boxes only
  plot_->yAxis->setTicker(counts);
  layout->addWidget(plot_, 1);
  labels_ = new QTreeWidget(this);
  labels_->setColumnCount(2);
  labels_->setHeaderLabels({tr("label"), tr("boxes")});
  labels_->setRootIsDecorated(false);
  labels_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
  labels_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  layout->addWidget(labels_, 1);
}

void ReviewStatsWidget::refresh(const annotations::AnnotationStore* store) {
  if (store == nullptr) return;
  stats_ = store->stats();
  histogram_ = store->score_histogram(kBins);
  auto count = [&](ReviewStatus s) {
    auto it = stats_.by_status.find(s);
    return it == stats_.by_status.end() ? int64_t(0) : it->second;
  };
  summary_->setText(tr("<b>%1</b> images, <b>%2</b> boxes<br>"
                       "<span style='color:#f39c12'>■</span> unreviewed %3 &nbsp; "
                       "<span style='color:#2ecc71'>■</span> accepted %4<br>"
                       "<span style='color:#e74c3c'>■</span> rejected %5 &nbsp; "
                       "<span style='color:#3498db'>■</span> edited %6<br>"
                       "embeddings: %7 stale, %8 missing")
                        .arg(stats_.images)
                        .arg(stats_.annotations)
                        .arg(count(ReviewStatus::Unreviewed))
                        .arg(count(ReviewStatus::Accepted))
                        .arg(count(ReviewStatus::Rejected))
                        .arg(count(ReviewStatus::Edited))
                        .arg(stats_.stale_embeddings)
                        .arg(stats_.missing_embeddings));
  const int64_t pending = stats_.stale_embeddings + stats_.missing_embeddings;
  reembed_->setVisible(pending > 0);
  reembed_->setEnabled(true);
  reembed_->setText(pending == 1 ? tr("Re-embed 1 caption") : tr("Re-embed %1 captions").arg(pending));
  int64_t scored = 0;
  for (int64_t n : histogram_) scored += n;
  histogram_note_->setVisible(scored == 0 && stats_.annotations > 0);
  plot_->setVisible(scored > 0);
  labels_->clear();
  for (size_t k = 0; k < std::min<size_t>(stats_.by_label.size(), 200); ++k) {
    const auto& [name, n] = stats_.by_label[k];
    auto* item = new QTreeWidgetItem(
        labels_, {name.empty() ? tr("(no label)") : QString::fromStdString(name), QString::number(n)});
    item->setTextAlignment(1, Qt::AlignRight);
  }
  plot_->clearPlottables();
  auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
  bars->setWidth(1.0 / kBins * 0.9);
  bars->setBrush(QColor(52, 152, 219));
  bars->setPen(Qt::NoPen);
  QVector<double> x, y;
  double top = 1;
  for (int k = 0; k < kBins; ++k) {
    x << (k + 0.5) / kBins;
    y << static_cast<double>(histogram_[k]);
    top = std::max(top, y.back());
  }
  bars->setData(x, y);
  plot_->xAxis->setRange(0, 1);
  plot_->yAxis->setRange(0, top * 1.1);
  plot_->replot();
}

void ReviewStatsWidget::setReembedProgress(int64_t done, int64_t total) {
  reembed_->setEnabled(false);
  reembed_->setText(tr("Embedding captions… %1 / %2").arg(done).arg(total));
}

}  // namespace gligen::ui
