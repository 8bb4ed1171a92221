// main() for Qt Test executables whose functions CTest spreads over more than one entry
// (tests/CMakeLists.txt): $GLIGEN_EXCLUDE_FUNCTIONS (comma-separated) names the test functions
// that this entry does not run, because another entry runs them or they do not apply to this
// build. They are left out of the run, not skipped. Without the variable (run by hand) every
// function runs; names given on the command line are used as they are.
#pragma once
#include <QCoreApplication>
#include <QMetaMethod>
#include <QStringList>
#include <QtTest>

namespace gligen::test {

inline QStringList test_arguments(const QObject& tests, int argc, char** argv) {
  QStringList args;
  for (int i = 0; i < argc; ++i) args << QString::fromLocal8Bit(argv[i]);
  const QStringList excluded = qEnvironmentVariable("GLIGEN_EXCLUDE_FUNCTIONS").split(',', Qt::SkipEmptyParts);
  if (excluded.isEmpty()) return args;
  for (int i = 1; i < args.size(); ++i)
    if (!args[i].startsWith('-')) return args;  // the caller chose the functions
  QStringList functions;
  const QMetaObject* meta = tests.metaObject();
  for (int i = meta->methodOffset(); i < meta->methodCount(); ++i) {
    const QMetaMethod m = meta->method(i);
    if (m.methodType() != QMetaMethod::Slot || m.access() != QMetaMethod::Private || m.parameterCount() != 0) continue;
    const QString name = QString::fromLatin1(m.name());
    if (name == QLatin1String("initTestCase") || name == QLatin1String("cleanupTestCase") ||
        name == QLatin1String("init") || name == QLatin1String("cleanup") || name.endsWith(QLatin1String("_data")))
      continue;
    if (!excluded.contains(name)) functions << name;
  }
  return args + functions;
}

}  // namespace gligen::test

// Drop-in replacements for QTEST_MAIN / QTEST_GUILESS_MAIN that honour GLIGEN_EXCLUDE_FUNCTIONS.
#define GLIGEN_TEST_MAIN(TestObject)                                        \
  int main(int argc, char** argv) {                                         \
    QApplication app(argc, argv);                                           \
    app.setAttribute(Qt::AA_Use96Dpi, true);                                \
    TestObject tc;                                                          \
    QTEST_SET_MAIN_SOURCE_PATH                                              \
    return QTest::qExec(&tc, gligen::test::test_arguments(tc, argc, argv)); \
  }

#define GLIGEN_TEST_GUILESS_MAIN(TestObject)                                \
  int main(int argc, char** argv) {                                         \
    QCoreApplication app(argc, argv);                                       \
    TestObject tc;                                                          \
    QTEST_SET_MAIN_SOURCE_PATH                                              \
    return QTest::qExec(&tc, gligen::test::test_arguments(tc, argc, argv)); \
  }
