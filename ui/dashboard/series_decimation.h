// Display-side reduction of long metric series, so charts stay fast at 100k+ steps: a chart
// never draws more than a few points per pixel column, however long the run.
#pragma once
#include <QVector>

namespace gligen::ui {

struct XYSeries {
  QVector<double> x, y;
  int size() const { return static_cast<int>(x.size()); }
};

// `x` ascending. Splits [x0, x1] into `buckets` equal intervals and keeps, per interval, the
// first, lowest, highest and last point in x order (so spikes survive and the line's shape at
// that width is unchanged), plus the nearest point outside each end so lines reach the edges.
// NaN values are dropped. When the range holds at most 4 x buckets points, all are kept.
XYSeries decimateMinMax(const QVector<double>& x, const QVector<double>& y, double x0, double x1, int buckets);

// Exponential moving average with TensorBoard's debiasing (the first values are not pulled
// toward 0). weight in [0, 1): 0 returns the input. NaN inputs stay NaN and do not disturb it.
QVector<double> smoothEma(const QVector<double>& y, double weight);

// The same, one value at a time (for series that grow).
class EmaSmoother {
 public:
  explicit EmaSmoother(double weight = 0);
  double push(double y);  // NaN passes through

 private:
  double weight_, acc_ = 0, weight_power_ = 1;
};

}  // namespace gligen::ui
