// The review panel's statistics: box counts by review status and by label, and a histogram of
// detector scores (QCustomPlot). Computed on request (a COCO-sized dataset takes a fraction of
// a second), so the panel refreshes it only while it is shown.
#pragma once
#include <QWidget>

#include "core/annotations/annotation_store.h"

class QCustomPlot;
class QLabel;
class QPushButton;
class QTreeWidget;

namespace gligen::ui {

class ReviewStatsWidget : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kBins = 20;
  explicit ReviewStatsWidget(QWidget* parent = nullptr);
  void refresh(const annotations::AnnotationStore* store);
  // For tests: the numbers last shown.
  const annotations::DatasetStats& shownStats() const { return stats_; }
  const std::vector<int64_t>& shownHistogram() const { return histogram_; }
  QPushButton* reembedButton() const { return reembed_; }
  QLabel* histogramNote() const { return histogram_note_; }
  // While captions are being embedded: the button shows progress and is disabled.
  void setReembedProgress(int64_t done, int64_t total);

 Q_SIGNALS:
  // The user asked to embed the captions whose embedding is stale (edited) or missing (new box).
  void reembedRequested();

 private:
  QLabel* summary_;
  QPushButton* reembed_;
  QLabel* histogram_note_;
  QTreeWidget* labels_;
  QCustomPlot* plot_;
  annotations::DatasetStats stats_;
  std::vector<int64_t> histogram_;
};

}  // namespace gligen::ui
