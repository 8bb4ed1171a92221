// TrainingJobRunner: owns one `gligen-trainer` process of the dashboard (train, or launch with N
// local ranks). Widgets never touch the QProcess: they call start()/stop() and see signals.
//  - stdout and stderr are read line by line; the last lines are kept for the error report;
//  - stop() asks nicely (SIGTERM: the trainer finishes its step, checkpoints and exits) and kills
//    the process when it has not exited after the grace period;
//  - finished() says how it ended in plain words, with the trainer's own error message when it
//    printed one ("gligen-trainer train: error: ...").
// What the job is doing is read from its run folder (RunFollower), not from its output.
#pragma once
#include <QMap>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>

namespace gligen::ui {

class TrainingJobRunner : public QObject {
  Q_OBJECT
 public:
  explicit TrainingJobRunner(QObject* parent = nullptr);
  ~TrainingJobRunner() override;  // stops a running process (SIGTERM, then kill after 5 s)

  // The gligen-trainer next to the studio's executable, else the one on PATH.
  static QString defaultTrainerProgram();

  // Starts `program args` with `extraEnv` added to the environment. False (with errorMessage())
  // when a job is already running.
  bool start(const QString& program, const QStringList& args, const QMap<QString, QString>& extraEnv = {});
  // SIGTERM now; SIGKILL when still running after `graceMs`.
  void stop(int graceMs = 60000);
  void kill();

  bool isRunning() const { return process_.state() != QProcess::NotRunning; }
  qint64 processId() const { return process_.processId(); }
  QString program() const { return process_.program(); }
  QStringList arguments() const { return process_.arguments(); }
  bool stopRequested() const { return stop_requested_; }
  int exitCode() const { return exit_code_; }
  // Why the last run failed, "" after a clean exit.
  QString errorMessage() const { return error_; }
  QStringList recentErrorLines() const { return stderr_tail_; }

  static constexpr int kTailLines = 200;

 Q_SIGNALS:
  void started();
  void outputLine(const QString& line, bool fromStderr);
  // ok: exit status 0. `message` says what happened ("finished", "stopped", the trainer's error).
  void finished(bool ok, const QString& message);

 private:
  void readLines(QProcess::ProcessChannel channel);
  void onFinished(int code, QProcess::ExitStatus status);
  void onError(QProcess::ProcessError error);

  QProcess process_;
  QTimer kill_timer_;
  QByteArray partial_[2];
  QStringList stderr_tail_;
  QString error_;
  int exit_code_ = 0;
  bool stop_requested_ = false;
  bool reported_ = false;
};

}  // namespace gligen::ui
