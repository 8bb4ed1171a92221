// Where the reference fixtures are: $GLIGEN_FIXTURES, else the build's default
// (../shared/fixtures beside the project). A missing fixture fails the test: it never skips.
#pragma once
#include <QByteArray>
#include <QFileInfo>
#include <QString>
#include <QtTest>
#include <string>

namespace gligen::test {

inline std::string fixtures_root() {
  QByteArray env = qgetenv("GLIGEN_FIXTURES");
  if (env.isEmpty()) env = qgetenv("GLIGEN_FIXTURES_DEFAULT");
  return env.isEmpty() ? std::string("../shared/fixtures") : env.toStdString();
}

inline std::string fixture(const std::string& relative) { return fixtures_root() + "/" + relative; }

}  // namespace gligen::test

// Fails the current test function when a fixture file or folder is missing.
#define GLIGEN_REQUIRE_FIXTURE(path)                                                                   \
  do {                                                                                                 \
    if (!QFileInfo::exists(QString::fromStdString(path)))                                              \
      QFAIL(qPrintable(QStringLiteral("fixture missing: %1 (set GLIGEN_FIXTURES to the fixture root)") \
                           .arg(QString::fromStdString(path))));                                       \
  } while (0)

namespace gligen::test {

// A file of the project's own test data (tests/data), which CTest passes as $GLIGEN_TEST_DATA.
inline std::string test_data(const std::string& relative) {
  const QByteArray env = qgetenv("GLIGEN_TEST_DATA");
  return (env.isEmpty() ? std::string("tests/data") : env.toStdString()) + "/" + relative;
}

}  // namespace gligen::test

// First statement of a test function that takes minutes (subprocess rounds, long training runs):
// a marker that tests/CMakeLists.txt reads from the source. CTest runs such functions in an entry
// of their own, <test>_slow with the label `slow`, and leaves them out of the main entry
// (GLIGEN_EXCLUDE_FUNCTIONS, support/test_main.h), so nothing is skipped. It does nothing at run
// time: run by hand, an executable runs all its functions.
#define GLIGEN_SLOW_TEST() \
  do {                     \
  } while (0)
