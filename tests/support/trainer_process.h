// Runs the built gligen-trainer ($GLIGEN_TRAINER, set by CTest) and collects what it said.
#pragma once
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace gligen::test {

struct TrainerRun {
  int exit_code;  // -1: timed out (killed), -2: crashed
  QString out, err;
};

// Runs `program` with `args` (and `env` added to this process's environment).
inline TrainerRun run_program(const QString& program, const QStringList& args, int timeout_ms = 600000,
                              const QStringList& env = {}) {
  QProcess p;
  if (!env.isEmpty()) {
    auto e = QProcessEnvironment::systemEnvironment();
    for (const QString& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(e);
  }
  p.start(program, args);
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    return {-1, QString::fromUtf8(p.readAllStandardOutput()), "timed out"};
  }
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
          QString::fromUtf8(p.readAllStandardError())};
}

inline TrainerRun run_trainer(const QStringList& args, int timeout_ms = 600000) {
  return run_program(QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")), args, timeout_ms);
}

}  // namespace gligen::test
