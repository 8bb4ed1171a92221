// Runs the built gligen-trainer ($GLIGEN_TRAINER, set by CTest) and collects what it said.
#pragma once
#include <QProcess>
#include <QString>
#include <QStringList>

namespace gligen::test {

struct TrainerRun {
  int exit_code;  // -1: timed out (killed), -2: crashed
  QString out, err;
};

inline TrainerRun run_trainer(const QStringList& args, int timeout_ms = 600000) {
  QProcess p;
  p.start(QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")), args);
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    return {-1, QString::fromUtf8(p.readAllStandardOutput()), "timed out"};
  }
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
          QString::fromUtf8(p.readAllStandardError())};
}

}  // namespace gligen::test
