// RunFollower: follows a run directory (DESIGN.md "Jobs and runs") the way `tail -F` follows a
// log: it reads what events.jsonl gained since the last look, line by line, into a RunHistory.
// A job started by the studio, on a cluster or by hand is monitored the same way.
//  - A line is applied only once its newline has arrived (a writer may be mid-line).
//  - A line that is not a JSON event is skipped with a warning(); the rest still loads.
//  - A file that shrank or was replaced is read again from the start.
// It polls (default every 250 ms): inotify misses appends on network file systems, where cluster
// runs usually live, and a stat per tick costs nothing.
#pragma once
#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>

#include "ui/jobs/run_history.h"

namespace gligen::ui {

class RunFollower : public QObject {
  Q_OBJECT
 public:
  explicit RunFollower(QString runDirectory, QObject* parent = nullptr);

  const QString& directory() const { return dir_; }
  QString eventsPath() const;
  const RunHistory& history() const { return history_; }
  // run.json (the resolved configuration), empty until the trainer has written it.
  const QJsonObject& config() const { return config_; }
  int skippedLines() const { return skipped_; }

  void setPollInterval(int ms) { timer_.setInterval(ms); }
  void start();  // reads what is there now, then polls
  void stop() { timer_.stop(); }

 public Q_SLOTS:
  // Reads whatever is new; returns through the signals. Safe to call at any time.
  void poll();

 Q_SIGNALS:
  void changed();                        // the history gained events (or was reset)
  void configChanged();                  // run.json appeared or changed
  void warning(const QString& message);  // a skipped line, a vanished file, ...

 private:
  void readConfig();
  void applyLine(const QByteArray& line, qint64 lineNumber);

  QString dir_;
  RunHistory history_;
  QJsonObject config_;
  QDateTime config_mtime_;
  QTimer timer_;
  qint64 offset_ = 0;   // bytes of events.jsonl consumed
  qint64 line_no_ = 0;  // complete lines consumed
  QByteArray partial_;  // a line still waiting for its newline
  QByteArray head_;     // the first bytes read, to notice a replaced file
  int skipped_ = 0;
};

}  // namespace gligen::ui
