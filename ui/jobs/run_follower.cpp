#include "ui/jobs/run_follower.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonParseError>

namespace gligen::ui {

namespace {
constexpr int kHeadBytes = 64;
constexpr qint64 kMaxLineBytes = 1 << 20;  // an event line is a few hundred bytes
}  // namespace

RunFollower::RunFollower(QString runDirectory, QObject* parent) : QObject(parent), dir_(std::move(runDirectory)) {
  timer_.setInterval(250);
  connect(&timer_, &QTimer::timeout, this, &RunFollower::poll);
}

QString RunFollower::eventsPath() const { return QDir(dir_).filePath(QStringLiteral("events.jsonl")); }

void RunFollower::start() {
  poll();
  timer_.start();
}

void RunFollower::readConfig() {
  const QFileInfo info(QDir(dir_).filePath(QStringLiteral("run.json")));
  if (!info.exists() || info.lastModified() == config_mtime_) return;
  QFile f(info.filePath());
  if (!f.open(QIODevice::ReadOnly)) return;
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject()) {
    // The trainer writes run.json atomically; a broken one was made by someone else.
    if (config_mtime_ != info.lastModified())
      Q_EMIT warning(QStringLiteral("%1 is not valid JSON (%2); the run's settings are unknown")
                         .arg(info.filePath(), err.errorString()));
    config_mtime_ = info.lastModified();
    return;
  }
  config_mtime_ = info.lastModified();
  config_ = doc.object();
  Q_EMIT configChanged();
}

void RunFollower::applyLine(const QByteArray& raw, qint64 lineNumber) {
  const QByteArray line = raw.trimmed();
  if (line.isEmpty()) return;
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject() || !history_.apply(doc.object())) {
    ++skipped_;
    const QString why = err.error != QJsonParseError::NoError ? err.errorString()
                                                              : QStringLiteral("not an event object with a \"kind\"");
    Q_EMIT warning(QStringLiteral("events.jsonl line %1 skipped: %2").arg(lineNumber).arg(why));
  }
}

void RunFollower::poll() {
  readConfig();
  QFile f(eventsPath());
  if (!f.exists()) {
    if (offset_ > 0) {
      Q_EMIT warning(QStringLiteral("%1 disappeared; waiting for it to come back").arg(eventsPath()));
      history_.clear();
      offset_ = line_no_ = 0;
      partial_.clear();
      head_.clear();
      Q_EMIT changed();
    }
    return;
  }
  if (!f.open(QIODevice::ReadOnly)) return;
  const qint64 size = f.size();
  bool reset = size < offset_;
  if (!reset && !head_.isEmpty()) {
    // Same length or longer, but another file (the run folder was deleted and reused)?
    if (f.read(head_.size()) != head_) reset = true;
  }
  if (reset) {
    history_.clear();
    offset_ = line_no_ = 0;
    partial_.clear();
    head_.clear();
  }
  if (size == offset_) {
    if (reset) Q_EMIT changed();
    return;
  }
  f.seek(offset_);
  const QByteArray chunk = f.read(size - offset_);
  if (head_.size() < kHeadBytes && offset_ == 0) head_ = chunk.left(kHeadBytes);
  offset_ += chunk.size();
  const int before = history_.eventCount();
  qsizetype start = 0;
  while (true) {
    const qsizetype nl = chunk.indexOf('\n', start);
    if (nl < 0) break;
    ++line_no_;
    if (partial_.isEmpty()) {
      applyLine(chunk.mid(start, nl - start), line_no_);
    } else {
      partial_ += chunk.mid(start, nl - start);
      applyLine(partial_, line_no_);
      partial_.clear();
    }
    start = nl + 1;
  }
  partial_ += chunk.mid(start);
  if (partial_.size() > kMaxLineBytes) {
    ++skipped_;
    Q_EMIT warning(QStringLiteral("events.jsonl line %1 is over 1 MiB without a newline; skipped").arg(line_no_ + 1));
    partial_.clear();
  }
  if (reset || history_.eventCount() != before) Q_EMIT changed();
}

}  // namespace gligen::ui
