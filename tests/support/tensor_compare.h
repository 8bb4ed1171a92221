// Tensor comparison for parity tests: reports the max abs error against the tolerance the
// fixtures README prescribes, so a failure says by how much and where.
#pragma once
#include <torch/torch.h>
#include <QtTest>
#include <sstream>
#include <string>

namespace gligen::test {

struct Closeness {
  double max_abs = 0.0;
  double max_ref = 0.0;
  bool shapes_match = true;
  std::string describe(const std::string& what, double tol) const {
    std::ostringstream os;
    os << what << ": max abs error " << max_abs << " (tolerance " << tol << ", max |ref| " << max_ref << ")";
    return os.str();
  }
};

inline Closeness compare(const torch::Tensor& got, const torch::Tensor& ref) {
  Closeness c;
  if (got.sizes() != ref.sizes()) {
    c.shapes_match = false;
    return c;
  }
  auto g = got.detach().to(torch::kCPU, torch::kFloat64);
  auto r = ref.detach().to(torch::kCPU, torch::kFloat64);
  c.max_ref = r.numel() ? r.abs().max().item<double>() : 0.0;
  c.max_abs = r.numel() ? (g - r).abs().max().item<double>() : 0.0;
  if (std::isnan(c.max_abs)) c.max_abs = INFINITY;
  return c;
}

// Relative tolerance as in the fixtures README: tol_scale * max(1, max|ref|).
inline double scaled_tolerance(const torch::Tensor& ref, double tol_scale) {
  double m = ref.numel() ? ref.detach().abs().max().item<double>() : 0.0;
  return tol_scale * std::max(1.0, m);
}

inline std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

}  // namespace gligen::test

// Asserts got ≈ ref within tol_scale * max(1, max|ref|), printing the observed error.
#define GLIGEN_COMPARE_TENSORS(got, ref, tol_scale, what)                                                      \
  do {                                                                                                         \
    const auto _g = (got);                                                                                     \
    const auto _r = (ref);                                                                                     \
    const auto _c = ::gligen::test::compare(_g, _r);                                                           \
    if (!_c.shapes_match)                                                                                      \
      QFAIL(qPrintable(QString::fromStdString(std::string(what) + ": shape " + ::gligen::test::shape_str(_g) + \
                                              " != reference " + ::gligen::test::shape_str(_r))));             \
    const double _tol = ::gligen::test::scaled_tolerance(_r, (tol_scale));                                     \
    qInfo("%s", _c.describe(what, _tol).c_str());                                                              \
    QVERIFY2(_c.max_abs <= _tol, _c.describe(what, _tol).c_str());                                             \
  } while (0)
