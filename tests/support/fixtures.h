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
#define GLIGEN_REQUIRE_FIXTURE(path)                                                                  \
  do {                                                                                                \
    if (!QFileInfo::exists(QString::fromStdString(path)))                                             \
      QFAIL(qPrintable(QStringLiteral("fixture missing: %1 (set GLIGEN_FIXTURES to the fixture root)") \
                           .arg(QString::fromStdString(path))));                                      \
  } while (0)
