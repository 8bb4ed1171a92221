#include "ui/dashboard/metric_chart.h"
#include "ui/dashboard/qcustomplot_include.h"

#include <QLabel>
#include <QStackedLayout>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

namespace gligen::ui {

QColor MetricChart::seriesColor(int slot) { return slot == 0 ? QColor(0x2a, 0x7a, 0xd8) : QColor(0xe0, 0x6c, 0x1f); }

namespace {

QColor faded(QColor c) {
  c.setAlpha(80);
  return c;
}
}  // namespace

MetricChart::MetricChart(RunMetric metric, QWidget* parent)
    : QWidget(parent), metric_(metric), plot_(new QCustomPlot(this)), empty_(new QLabel(this)) {
  auto* stack = new QStackedLayout(this);
  stack->setStackingMode(QStackedLayout::StackAll);
  stack->addWidget(empty_);
  stack->addWidget(plot_);
  empty_->setAlignment(Qt::AlignCenter);
  empty_->setWordWrap(true);
  empty_->setAttribute(Qt::WA_TransparentForMouseEvents);
  empty_->setStyleSheet(QStringLiteral("color: palette(mid);"));
  empty_->raise();
  setMinimumSize(220, 150);

  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->axisRect()->setRangeDrag(Qt::Horizontal);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal);
  plot_->setNoAntialiasingOnDrag(true);
  // One polyline per graph instead of a segment per point: wide antialiased pens are otherwise
  // the whole cost of a redraw.
  plot_->setPlottingHint(QCP::phFastPolylines, true);
  plot_->plotLayout()->insertRow(0);
  auto* title = new QCPTextElement(plot_, metricTitle(metric), QFont(font().family(), font().pointSize(), QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, title);
  plot_->xAxis->setLabel(isDatasetMetric(metric) ? QStringLiteral("image") : QStringLiteral("step"));
  plot_->legend->setVisible(false);  // one legend for all charts lives in the dashboard
  const QPalette pal = palette();
  plot_->setBackground(pal.color(QPalette::Base));
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
    axis->setBasePen(QPen(pal.color(QPalette::Mid)));
    axis->setTickPen(QPen(pal.color(QPalette::Mid)));
    axis->setSubTickPen(QPen(pal.color(QPalette::Mid)));
    axis->setTickLabelColor(pal.color(QPalette::Text));
    axis->setLabelColor(pal.color(QPalette::Text));
    axis->grid()->setPen(QPen(pal.color(QPalette::Midlight), 0, Qt::DotLine));
  }
  title->setTextColor(pal.color(QPalette::Text));

  for (int i = 0; i < 2; ++i) {
    const QColor c = seriesColor(i);
    Source& s = sources_[i];
    s.rawGraph = plot_->addGraph();
    s.smoothGraph = plot_->addGraph();
    const bool loss = metric_ == RunMetric::Loss;
    s.rawGraph->setPen(QPen(loss ? faded(c) : c, 1.2));
    s.smoothGraph->setPen(QPen(c, 1.8));
    s.smoothGraph->setVisible(loss);
    // Raw series are noisy (a vertical min-max stroke per pixel at 100k steps): antialiasing
    // them costs most of a redraw and shows nothing; the smoothed line keeps it.
    s.rawGraph->setAntialiased(false);
  }
  // Re-decimate for the new visible range after a pan or zoom.
  connect(plot_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
    if (!redrawing_)
      QMetaObject::invokeMethod(
          this, [this] { redraw(); }, Qt::QueuedConnection);
  });
  connect(plot_, &QCustomPlot::mousePress, this, [this] { setUserMoved(); });
  connect(plot_, &QCustomPlot::mouseWheel, this, [this] { setUserMoved(); });
  connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] { fit(); });
  setRuns(nullptr, QString());
}

void MetricChart::setRuns(const RunHistory* primary, const QString& primaryName, const RunHistory* compare,
                          const QString& compareName) {
  if (sources_[0].history == primary && sources_[1].history == compare && sources_[0].name == primaryName &&
      sources_[1].name == compareName) {
    refresh();  // the same runs: keep the user's zoom, read only what is new
    return;
  }
  sources_[0].history = primary;
  sources_[0].name = primaryName;
  sources_[1].history = compare;
  sources_[1].name = compareName;
  follow_ = true;
  rebuildAll();
}

void MetricChart::readSource(Source& s, bool rebuild) {
  if (!s.history) {
    s.raw.x.clear();
    s.raw.y.clear();
    s.smooth.clear();
    s.consumed = -1;
    return;
  }
  const auto& pts = s.history->points();
  if (rebuild || s.consumed < 0 || s.revision != s.history->revision() || s.consumed > pts.size()) {
    s.raw.x.clear();
    s.raw.y.clear();
    s.smooth.clear();
    s.ema = EmaSmoother(smoothing_);
    s.consumed = 0;
    s.revision = s.history->revision();
  }
  const bool smooth = metric_ == RunMetric::Loss && smoothing_ > 0;
  for (qsizetype i = s.consumed; i < pts.size(); ++i) {
    const double v = metricValue(pts[i], metric_);
    if (std::isnan(v) || (log_scale_ && v <= 0)) continue;
    s.raw.x.append(pts[i].step);
    s.raw.y.append(v);
    if (smooth) s.smooth.append(s.ema.push(v));
  }
  s.consumed = pts.size();
}

void MetricChart::refresh() {
  for (Source& s : sources_) readSource(s, false);
  redraw();
}

void MetricChart::rebuildAll() {
  for (Source& s : sources_) readSource(s, true);
  redraw();
}

void MetricChart::setLogScale(bool on) {
  if (on == log_scale_) return;
  log_scale_ = on;
  plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  log_ticks_ = false;
  plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  plot_->yAxis->setNumberFormat(QStringLiteral("g"));
  plot_->yAxis->setNumberPrecision(4);
  rebuildAll();
}

void MetricChart::setSmoothing(double weight) {
  smoothing_ = weight;
  for (Source& s : sources_) s.smoothGraph->setVisible(metric_ == RunMetric::Loss && weight > 0);
  rebuildAll();
}

void MetricChart::fit() {
  follow_ = true;
  redraw();
}

int MetricChart::drawnPoints() const {
  int n = 0;
  for (const Source& s : sources_)
    n += s.rawGraph->dataCount() + (s.smoothGraph->visible() ? s.smoothGraph->dataCount() : 0);
  return n;
}

int MetricChart::seriesPoints() const { return sources_[0].raw.size() + sources_[1].raw.size(); }

void MetricChart::redraw() {
  QElapsedTimer timer;
  timer.start();
  redrawing_ = true;
  double lo = 0, hi = 0;
  bool any = false;
  for (const Source& s : sources_) {
    if (s.raw.x.isEmpty()) continue;
    lo = any ? std::min(lo, s.raw.x.first()) : s.raw.x.first();
    hi = any ? std::max(hi, s.raw.x.last()) : s.raw.x.last();
    any = true;
  }
  if (follow_ && any) plot_->xAxis->setRange(lo, hi > lo ? hi : lo + 1);
  const QCPRange range = plot_->xAxis->range();
  const int buckets = std::max(50, plot_->axisRect()->width());
  for (int i = 0; i < 2; ++i) {
    Source& s = sources_[i];
    const XYSeries r = decimateMinMax(s.raw.x, s.raw.y, range.lower, range.upper, buckets);
    s.rawGraph->setData(r.x, r.y, true);
    if (s.smoothGraph->visible()) {
      const XYSeries m = decimateMinMax(s.raw.x, s.smooth, range.lower, range.upper, buckets);
      s.smoothGraph->setData(m.x, m.y, true);
    } else {
      s.smoothGraph->data()->clear();
    }
    const QString name = s.name.isEmpty() ? QStringLiteral("run") : s.name;
    s.rawGraph->setName(metric_ == RunMetric::Loss ? name + QStringLiteral(" (raw)") : name);
    s.smoothGraph->setName(name);
  }
  if (any) {
    // The value range of what is visible (rescaleValueAxis would keep a stale span for a flat
    // series such as a constant learning rate).
    double ylo = std::numeric_limits<double>::infinity(), yhi = -ylo;
    for (const Source& src : sources_) {
      for (QCPGraph* g : {src.rawGraph, src.smoothGraph}) {
        if (!g->visible()) continue;
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
          if (it->key < range.lower || it->key > range.upper || !std::isfinite(it->value)) continue;
          if (log_scale_ && it->value <= 0) continue;
          ylo = std::min(ylo, it->value);
          yhi = std::max(yhi, it->value);
        }
      }
    }
    if (ylo <= yhi) {
      if (log_scale_) {
        plot_->yAxis->setRange(ylo / 1.15, yhi * 1.15);
        // Decade ticks only help when the data spans decades.
        const bool decades = yhi / ylo > 20;
        if (decades != log_ticks_) {
          log_ticks_ = decades;
          if (decades)
            plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
          else
            plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
          plot_->yAxis->setNumberFormat(decades ? QStringLiteral("eb") : QStringLiteral("g"));
          plot_->yAxis->setNumberPrecision(decades ? 0 : 4);
        }
      } else {
        const double span = yhi - ylo;
        const double pad =
            span > 1e-12 * std::max(std::fabs(yhi), 1e-300) ? span * 0.06 : std::max(std::fabs(yhi) * 0.05, 1e-12);
        // All zero (a stage that takes no time, e.g. tagging with a fixed detector text): a plain
        // 0..1 axis rather than ticks of 1e-12.
        if (ylo == 0 && yhi == 0)
          plot_->yAxis->setRange(-0.05, 1);
        else
          plot_->yAxis->setRange(ylo - pad, yhi + pad);
      }
    }
  }
  const bool noData = !any;
  empty_->setVisible(noData);
  if (noData) {
    empty_->setText(metric_ == RunMetric::GpuUtil
                        ? QStringLiteral("GPU utilisation: not reported by this run")
                        : metricTitle(metric_) + (isDatasetMetric(metric_) ? QStringLiteral(": no images yet")
                                                                           : QStringLiteral(": no steps yet")));
  }
  plot_->setVisible(!noData);
  plot_->replot(QCustomPlot::rpImmediateRefresh);
  redrawing_ = false;
  redraw_ms_ = timer.nsecsElapsed() / 1e6;
}

}  // namespace gligen::ui
