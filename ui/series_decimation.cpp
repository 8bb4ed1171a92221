#include "ui/series_decimation.h"

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
    qsizetype i = first;
    while (i < last) {
      const auto b = static_cast<qint64>(width > 0 ? std::floor((x[i] - x0) / width) : 0);
      const double end = x0 + (b + 1) * width;
      qsizetype lo = -1, hi = -1, firstValid = -1, lastValid = -1;
      for (; i < last && (x[i] < end || width <= 0); ++i) {
        if (std::isnan(y[i])) continue;
        if (firstValid < 0) firstValid = i;
        lastValid = i;
        if (lo < 0 || y[i] < y[lo]) lo = i;
        if (hi < 0 || y[i] > y[hi]) hi = i;
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

QVector<double> smoothEma(const QVector<double>& y, double weight) {
  QVector<double> out(y.size());
  weight = std::clamp(weight, 0.0, 0.999999);
  double acc = 0;
  int count = 0;
  for (qsizetype i = 0; i < y.size(); ++i) {
    if (std::isnan(y[i])) {
      out[i] = y[i];
      continue;
    }
    acc = acc * weight + (1 - weight) * y[i];
    ++count;
    const double debias = 1 - std::pow(weight, count);
    out[i] = debias > 0 ? acc / debias : y[i];
  }
  return out;
}

}  // namespace gligen::ui
