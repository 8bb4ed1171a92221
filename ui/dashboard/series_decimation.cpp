#include "ui/dashboard/series_decimation.h"

#include <algorithm>
#include <cmath>

namespace gligen::ui {

XYSeries decimateMinMax(const QVector<double>& x, const QVector<double>& y, double x0, double x1, int buckets) {
  XYSeries out;
  const qsizetype n = std::min(x.size(), y.size());
  if (n == 0) return out;
  buckets = std::max(1, buckets);
  // [first, last) = the points inside [x0, x1]; one more on each side when there is one.
  qsizetype first = std::lower_bound(x.begin(), x.begin() + n, x0) - x.begin();
  qsizetype last = std::upper_bound(x.begin(), x.begin() + n, x1) - x.begin();
  auto keep = [&](qsizetype i) {
    if (std::isnan(y[i])) return;
    out.x.append(x[i]);
    out.y.append(y[i]);
  };
  if (first > 0) keep(first - 1);
  if (last - first <= 4 * static_cast<qsizetype>(buckets)) {
    out.x.reserve(last - first + 2);
    out.y.reserve(last - first + 2);
    for (qsizetype i = first; i < last; ++i) keep(i);
  } else {
    out.x.reserve(4 * buckets + 2);
    out.y.reserve(4 * buckets + 2);
    const double width = (x1 - x0) / buckets;
    // Bucket b ends before the first x >= x0 + (b + 1) * width, found by binary search; the
    // scan inside a bucket is a plain min/max. Each bucket is visited once and the last takes
    // whatever is left, so rounding at a bucket edge can never stall the scan.
    qsizetype i = first;
    for (int bkt = 0; i < last; ++bkt) {
      qsizetype end = bkt + 1 >= buckets
                          ? last
                          : std::lower_bound(x.begin() + i, x.begin() + last, x0 + (bkt + 1) * width) - x.begin();
      if (end <= i) continue;
      qsizetype lo = -1, hi = -1, firstValid = -1, lastValid = -1;
      for (; i < end; ++i) {
        const double v = y[i];
        if (std::isnan(v)) continue;
        if (firstValid < 0) firstValid = lo = hi = i;
        lastValid = i;
        if (v < y[lo]) lo = i;
        if (v > y[hi]) hi = i;
      }
      if (firstValid < 0) continue;
      // In x order, without repeats.
      qsizetype picks[4] = {firstValid, lo, hi, lastValid};
      std::sort(picks, picks + 4);
      for (int k = 0; k < 4; ++k)
        if (k == 0 || picks[k] != picks[k - 1]) keep(picks[k]);
    }
  }
  if (last < n) keep(last);
  return out;
}

EmaSmoother::EmaSmoother(double weight) : weight_(std::clamp(weight, 0.0, 0.999999)) {}

double EmaSmoother::push(double y) {
  if (std::isnan(y)) return y;
  acc_ = acc_ * weight_ + (1 - weight_) * y;
  weight_power_ *= weight_;
  const double debias = 1 - weight_power_;
  return debias > 0 ? acc_ / debias : y;
}

QVector<double> smoothEma(const QVector<double>& y, double weight) {
  QVector<double> out;
  out.reserve(y.size());
  EmaSmoother ema(weight);
  for (double v : y) out.append(ema.push(v));
  return out;
}

}  // namespace gligen::ui
