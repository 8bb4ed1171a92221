// The seed of a randomized test: $GLIGEN_TEST_SEED when set (to replay a failure), else a fresh
// one. Either way it is printed, so a failing run says how to reproduce it.
#pragma once
#include <QRandomGenerator>
#include <QtGlobal>
#include <QtTest>

namespace gligen::test {

inline quint32 test_seed(const char* what) {
  bool ok = false;
  const quint32 env = qEnvironmentVariable("GLIGEN_TEST_SEED").toUInt(&ok);
  const quint32 seed = ok ? env : QRandomGenerator::system()->generate();
  qInfo("%s: seed %u (replay with GLIGEN_TEST_SEED=%u)", what, seed, seed);
  return seed;
}

}  // namespace gligen::test
