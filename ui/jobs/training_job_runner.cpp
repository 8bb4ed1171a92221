#include "ui/jobs/training_job_runner.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace gligen::ui {

TrainingJobRunner::TrainingJobRunner(QObject* parent) : QObject(parent) {
  kill_timer_.setSingleShot(true);
  connect(&kill_timer_, &QTimer::timeout, this, &TrainingJobRunner::kill);
  connect(&process_, &QProcess::readyReadStandardOutput, this, [this] { readLines(QProcess::StandardOutput); });
  connect(&process_, &QProcess::readyReadStandardError, this, [this] { readLines(QProcess::StandardError); });
  connect(&process_, &QProcess::finished, this, &TrainingJobRunner::onFinished);
  connect(&process_, &QProcess::errorOccurred, this, &TrainingJobRunner::onError);
}

TrainingJobRunner::~TrainingJobRunner() {
  if (!isRunning()) return;
  process_.terminate();
  if (!process_.waitForFinished(5000)) {
    process_.kill();
    process_.waitForFinished(2000);
  }
}

QString TrainingJobRunner::defaultTrainerProgram() {
  const QDir appDir(QCoreApplication::applicationDirPath());
  for (const QString& candidate : {appDir.filePath(QStringLiteral("gligen-trainer")),
                                   appDir.filePath(QStringLiteral("../trainer/gligen-trainer"))}) {
    if (QFileInfo(candidate).isExecutable()) return QFileInfo(candidate).canonicalFilePath();
  }
  const QString onPath = QStandardPaths::findExecutable(QStringLiteral("gligen-trainer"));
  return onPath.isEmpty() ? QStringLiteral("gligen-trainer") : onPath;
}

bool TrainingJobRunner::start(const QString& program, const QStringList& args, const QMap<QString, QString>& extraEnv) {
  if (isRunning()) {
    error_ = QStringLiteral("a job is already running in this runner");
    return false;
  }
  error_.clear();
  stderr_tail_.clear();
  partial_[0].clear();
  partial_[1].clear();
  exit_code_ = 0;
  stop_requested_ = false;
  reported_ = false;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  for (auto it = extraEnv.begin(); it != extraEnv.end(); ++it) env.insert(it.key(), it.value());
  process_.setProcessEnvironment(env);
  process_.setProgram(program);
  process_.setArguments(args);
  process_.start();
  if (!process_.waitForStarted(10000)) return false;  // onError reported it
  Q_EMIT started();
  return true;
}

void TrainingJobRunner::stop(int graceMs) {
  if (!isRunning()) return;
  stop_requested_ = true;
  process_.terminate();
  kill_timer_.start(graceMs);
}

void TrainingJobRunner::kill() {
  if (isRunning()) process_.kill();
}

void TrainingJobRunner::readLines(QProcess::ProcessChannel channel) {
  const bool err = channel == QProcess::StandardError;
  process_.setReadChannel(channel);
  QByteArray& buf = partial_[err ? 1 : 0];
  buf += process_.readAll();
  qsizetype start = 0;
  while (true) {
    // The terminal progress bar redraws with \r; treat it as a line end too.
    qsizetype nl = buf.indexOf('\n', start);
    const qsizetype cr = buf.indexOf('\r', start);
    if (cr >= 0 && (nl < 0 || cr < nl)) nl = cr;
    if (nl < 0) break;
    const QString line = QString::fromUtf8(buf.mid(start, nl - start)).trimmed();
    start = nl + 1;
    if (line.isEmpty()) continue;
    if (err) {
      stderr_tail_.append(line);
      if (stderr_tail_.size() > kTailLines) stderr_tail_.removeFirst();
    }
    Q_EMIT outputLine(line, err);
  }
  buf.remove(0, start);
}

void TrainingJobRunner::onFinished(int code, QProcess::ExitStatus status) {
  kill_timer_.stop();
  readLines(QProcess::StandardOutput);
  readLines(QProcess::StandardError);
  for (int i = 0; i < 2; ++i) {
    const QString rest = QString::fromUtf8(partial_[i]).trimmed();
    if (!rest.isEmpty() && i == 1) stderr_tail_.append(rest);
    if (!rest.isEmpty()) Q_EMIT outputLine(rest, i == 1);
    partial_[i].clear();
  }
  exit_code_ = code;
  if (reported_) return;
  reported_ = true;
  if (status == QProcess::NormalExit && code == 0) {
    error_.clear();
    Q_EMIT finished(
        true, stop_requested_ ? QStringLiteral("stopped after writing a checkpoint") : QStringLiteral("finished"));
    return;
  }
  // The trainer's own message ("gligen-trainer train: error: ..."), or the last thing it said.
  QString trainerError;
  for (auto it = stderr_tail_.crbegin(); it != stderr_tail_.crend(); ++it) {
    const qsizetype at = it->indexOf(QLatin1String("error: "));
    if (at >= 0) {
      trainerError = it->mid(at + 7);
      break;
    }
  }
  if (status == QProcess::CrashExit) {
    error_ = stop_requested_ ? QStringLiteral("killed: it did not stop within the grace period")
                             : QStringLiteral("the trainer crashed or was killed");
  } else {
    error_ = QStringLiteral("the trainer exited with status %1").arg(code);
  }
  if (!trainerError.isEmpty()) {
    error_ = trainerError;
  } else if (!stderr_tail_.isEmpty()) {
    error_ += QStringLiteral(": ") + stderr_tail_.last();
  }
  Q_EMIT finished(false, error_);
}

void TrainingJobRunner::onError(QProcess::ProcessError error) {
  if (error != QProcess::FailedToStart) return;  // the others end in finished()
  error_ = QStringLiteral("could not start %1: %2 (is gligen-trainer built and executable?)")
               .arg(process_.program(), process_.errorString());
  if (!reported_) {
    reported_ = true;
    Q_EMIT finished(false, error_);
  }
}

}  // namespace gligen::ui
