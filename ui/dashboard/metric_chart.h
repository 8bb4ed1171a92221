// MetricChart: one live chart of a training metric (loss, lr, samples/s, ...) over steps, for one
// run and optionally a second one overlaid for comparison. Built on QCustomPlot.
//  - Drag to pan, wheel to zoom (x), double-click to fit and follow the run again.
//  - Series are decimated to the visible range and the chart's width (series_decimation.h), so
//    a redraw costs the same at 1k and 1M steps.
//  - Loss is drawn raw (light) and smoothed (EMA, adjustable).
#pragma once
#include <QColor>
#include <QElapsedTimer>
#include <QString>
#include <QWidget>

#include "ui/jobs/run_history.h"
#include "ui/dashboard/series_decimation.h"

class QCustomPlot;
class QCPGraph;
class QLabel;

namespace gligen::ui {

class MetricChart : public QWidget {
  Q_OBJECT
 public:
  explicit MetricChart(RunMetric metric, QWidget* parent = nullptr);

  RunMetric metric() const { return metric_; }
  // The runs to draw (not owned; call refresh() after they change). `compare` may be null.
  // Setting the same runs again is a refresh().
  void setRuns(const RunHistory* primary, const QString& primaryName, const RunHistory* compare = nullptr,
               const QString& compareName = QString());
  void refresh();  // re-reads the histories and redraws
  void setLogScale(bool on);
  bool logScale() const { return log_scale_; }
  void setSmoothing(double weight);  // loss only; 0 turns smoothing off
  void fit();                        // whole run, and follow new steps again
  bool following() const { return follow_; }

  QCustomPlot* plot() const { return plot_; }
  int drawnPoints() const;   // points handed to QCustomPlot (after decimation)
  int seriesPoints() const;  // points in the histories
  double lastRedrawMs() const { return redraw_ms_; }
  static QColor seriesColor(int slot);  // 0: the run, 1: the compared run

 private:
  struct Source {
    const RunHistory* history = nullptr;
    QString name;
    XYSeries raw;  // full series
    QVector<double> smooth;
    EmaSmoother ema;
    qsizetype consumed = -1;  // history points read so far (-1: rebuild)
    int revision = -1;        // history revision they were read at
    QCPGraph* rawGraph = nullptr;
    QCPGraph* smoothGraph = nullptr;
  };
  void readSource(Source& s, bool rebuild);  // appends what the history gained, or rebuilds
  void rebuildAll();
  void redraw();
  void setUserMoved() { follow_ = false; }

  RunMetric metric_;
  QCustomPlot* plot_;
  QLabel* empty_;
  Source sources_[2];
  bool log_scale_ = false;
  bool log_ticks_ = false;  // decade ticks (only when the visible data spans decades)
  bool follow_ = true;
  bool redrawing_ = false;
  double smoothing_ = 0.9;
  double redraw_ms_ = 0;
};

}  // namespace gligen::ui
