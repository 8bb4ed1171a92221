#include "ui/dashboard/training_dashboard.h"

#include <QApplication>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QStackedWidget>
#include <QThread>
#include <QTreeWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "ui/dashboard/dataset_image_strip.h"
#include "ui/dashboard/metric_chart.h"
#include "ui/dashboard/new_training_dialog.h"
#include "ui/dashboard/run_list_panel.h"
#include "ui/dashboard/run_monitor_panel.h"
#include "ui/dashboard/run_outputs_panel.h"
#include "ui/jobs/dataset_job_spec.h"
#include "ui/jobs/run_follower.h"
#include "ui/jobs/training_job_runner.h"
#include "ui/jobs/training_job_spec.h"

namespace gligen::ui {

namespace {

QString duration(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds)) return QStringLiteral("—");
  const qint64 s = static_cast<qint64>(std::llround(seconds));
  if (s < 60) return QStringLiteral("%1 s").arg(s);
  if (s < 3600) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60);
  return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

// Complete checkpoints of a run folder (those with a manifest), newest first.
QVector<QPair<qint64, QString>> checkpointsOnDisk(const QString& runDir) {
  QVector<QPair<qint64, QString>> out;
  const QDir dir(QDir(runDir).filePath(QStringLiteral("checkpoints")));
  for (const QFileInfo& info : dir.entryInfoList({QStringLiteral("checkpoint-*")}, QDir::Dirs | QDir::NoDotAndDotDot)) {
    bool ok = false;
    const qint64 step = info.fileName().mid(11).toLongLong(&ok);
    if (ok && QFileInfo::exists(QDir(info.filePath()).filePath(QStringLiteral("manifest.json"))))
      out.append({step, info.filePath()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

}  // namespace

struct TrainingDashboard::Run {
  QString dir;
  std::unique_ptr<RunFollower> follower;
  std::unique_ptr<TrainingJobRunner> runner;  // jobs started in this session
  QString command;                            // their command line
  QString exitMessage;                        // how the process ended ("" while running / never ran here)
  bool exitOk = true;
  QStringList processLines;  // what the process printed that is not an event
  int imagesShown = 0;
  QString checkpointsShown;        // what the checkpoint list was built from (rebuilt when it changes)
  bool comparable = false;         // has data to draw: offered under "Compare with"
  bool launchedAsDataset = false;  // started here as a make-dataset job (before its run.json exists)
  QString datasetDb;               // its --db as launched

  QString name() const { return QFileInfo(dir).fileName(); }
  bool running() const { return runner && runner->isRunning(); }
  bool dataset() const {
    return launchedAsDataset || DatasetJobSpec::isDatasetRun(follower->config()) || follower->history().isDataset();
  }
  // run.json's paths as the trainer got them: relative ones are relative to where it ran (the
  // studio's working folder for jobs started here).
  QString configPath(const char* key) const {
    const QString v = follower->config().value(QLatin1String(key)).toString();
    return v.isEmpty() ? v : QDir::cleanPath(QFileInfo(v).absoluteFilePath());
  }
  QString db() const {
    const QString fromRun = configPath("db");
    return fromRun.isEmpty() && !datasetDb.isEmpty() ? QDir::cleanPath(QFileInfo(datasetDb).absoluteFilePath())
                                                     : fromRun;
  }
};

TrainingDashboard::TrainingDashboard(const Options& options, QWidget* parent) : QWidget(parent), options_(options) {
  if (options_.trainerProgram.isEmpty()) options_.trainerProgram = TrainingJobRunner::defaultTrainerProgram();
  setWindowTitle(QStringLiteral("Training — GLIGEN Studio"));

  run_list_ = new RunListPanel(this);
  connect(run_list_, &RunListPanel::newJobRequested, this, &TrainingDashboard::newJobDialog);
  connect(run_list_, &RunListPanel::attachRequested, this, &TrainingDashboard::attachDialog);
  connect(run_list_, &RunListPanel::currentRowChanged, this, [this](int row) { showRun(row); });

  monitor_ = new QWidget(this);
  auto* split = new QSplitter(Qt::Vertical, monitor_);
  monitor_panel_ = new RunMonitorPanel(split);
  outputs_ = new RunOutputsPanel(split);
  split->addWidget(monitor_panel_);
  split->addWidget(outputs_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  auto* mon = new QVBoxLayout(monitor_);
  mon->setContentsMargins(0, 0, 0, 0);
  mon->addWidget(split, 1);

  connect(monitor_panel_, &RunMonitorPanel::stopClicked, this, [this] { stopRun(currentRun()); });
  connect(monitor_panel_, &RunMonitorPanel::resumeClicked, this, [this] { resumeRun(currentRun()); });
  connect(monitor_panel_, &RunMonitorPanel::removeClicked, this, [this] { confirmAndRemove(currentRun()); });
  connect(monitor_panel_, &RunMonitorPanel::copyCommandClicked, this, [this] { copyCommand(currentRun()); });
  connect(monitor_panel_, &RunMonitorPanel::relaunchClicked, this, [this] { editAndRelaunch(currentRun()); });
  connect(monitor_panel_, &RunMonitorPanel::compareChosen, this, &TrainingDashboard::setCompareRun);
  connect(monitor_panel_, &RunMonitorPanel::openInReviewClicked, this, [this] { openInReview(currentRun()); });
  connect(outputs_, &RunOutputsPanel::openImage, this, &TrainingDashboard::openImage);
  connect(outputs_, &RunOutputsPanel::generateRequested, this, &TrainingDashboard::generateFromSelectedCheckpoint);
  connect(outputs_, &RunOutputsPanel::resumeRequested, this, &TrainingDashboard::resumeFromSelectedCheckpoint);
  connect(outputs_, &RunOutputsPanel::checkpointSelectionChanged, this, [this] { updateHeader(); });

  // New events arrive every step; charts redraw at most every interval, which grows with what a
  // redraw costs (long runs), so the window stays responsive.
  chart_timer_ = new QTimer(this);
  chart_timer_->setSingleShot(true);
  chart_timer_->setInterval(100);
  connect(chart_timer_, &QTimer::timeout, this, [this] {
    QElapsedTimer t;
    t.start();
    updateCharts();
    chart_timer_->setInterval(static_cast<int>(std::clamp<qint64>(5 * t.elapsed(), 100, 2000)));
  });

  placeholder_ = new QLabel(
      QStringLiteral("<h3>No runs yet</h3><p>New Job… sets up a training run (presets: the seed's COCO "
                     "recipe, or a quick CPU smoke run on a tiny model) or a dataset job that turns a folder of "
                     "images into annotations (RAM, Grounding DINO, BLIP-2, CLIP), and shows its exact command "
                     "line.</p>"
                     "<p>Attach Run… follows a run folder started elsewhere — on a cluster with torchrun, or by "
                     "hand — through its events.jsonl.</p>"),
      this);
  placeholder_->setAlignment(Qt::AlignCenter);
  placeholder_->setWordWrap(true);
  auto* stack = new QStackedWidget(this);
  stack->addWidget(placeholder_);
  stack->addWidget(monitor_);

  auto* outer = new QSplitter(Qt::Horizontal, this);
  outer->addWidget(run_list_);
  outer->addWidget(stack);
  outer->setStretchFactor(1, 1);
  outer->setSizes({240, 1000});
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(outer);
  resize(1280, 820);

  if (options_.persistRuns) restoreRunList();
  showRun(runs_.empty() ? -1 : 0);
}

void TrainingDashboard::confirmAndRemove(int i) {
  if (!run(i)) return;
  QMessageBox box(QMessageBox::Question, QStringLiteral("Delete run"),
                  QStringLiteral("Delete the run \"%1\"?").arg(run(i)->name()), QMessageBox::Cancel, this);
  box.setInformativeText(QStringLiteral("Delete Folder removes %1 with its checkpoints, validation images and "
                                        "trained UNet; it cannot be undone. Remove from List keeps the folder.")
                             .arg(run(i)->dir));
  QPushButton* del = box.addButton(QStringLiteral("Delete Folder"), QMessageBox::DestructiveRole);
  QPushButton* forget = box.addButton(QStringLiteral("Remove from List"), QMessageBox::AcceptRole);
  box.exec();
  if (box.clickedButton() == del)
    removeRun(i, true, false);
  else if (box.clickedButton() == forget)
    removeRun(i, false, false);
}

void TrainingDashboard::copyCommand(int i) {
  Run* r = run(i);
  if (!r) return;
  QString cmd = r->command;
  if (cmd.isEmpty() && !r->follower->config().isEmpty())
    cmd = r->dataset()
              ? DatasetJobSpec::fromRunJson(r->follower->config(), r->dir).commandLine(options_.trainerProgram)
              : TrainingJobSpec::fromRunJson(r->follower->config(), QString()).commandLine(options_.trainerProgram);
  QGuiApplication::clipboard()->setText(cmd);
  Q_EMIT message(QStringLiteral("Command line copied"));
}

TrainingDashboard::~TrainingDashboard() = default;

TrainingDashboard::Run* TrainingDashboard::run(int index) const {
  return index >= 0 && index < runCount() ? runs_[static_cast<size_t>(index)].get() : nullptr;
}

const RunFollower* TrainingDashboard::follower(int index) const {
  Run* r = run(index);
  return r ? r->follower.get() : nullptr;
}

TrainingJobRunner* TrainingDashboard::runner(int index) const {
  Run* r = run(index);
  return r ? r->runner.get() : nullptr;
}

QString TrainingDashboard::runDirectory(int index) const {
  Run* r = run(index);
  return r ? r->dir : QString();
}

MetricChart* TrainingDashboard::chart(RunMetric metric) const { return monitor_panel_->chart(metric); }
QTreeWidget* TrainingDashboard::checkpointList() const { return outputs_->checkpointList(); }
QListWidget* TrainingDashboard::imageStrip() const { return outputs_->imageStrip(); }
QPlainTextEdit* TrainingDashboard::logView() const { return outputs_->logView(); }
QLabel* TrainingDashboard::statusLabel() const { return monitor_panel_->statusLabel(); }
DatasetImageStrip* TrainingDashboard::datasetStrip() const { return outputs_->datasetStrip(); }

bool TrainingDashboard::isDatasetJob(int index) const {
  Run* r = run(index);
  return r && r->dataset();
}

QString TrainingDashboard::datasetOf(int index) const {
  Run* r = run(index);
  return r && r->dataset() ? r->db() : QString();
}

void TrainingDashboard::openInReview(int index) {
  Run* r = run(index);
  if (!r || !r->dataset()) return;
  const QString db = r->db();
  if (db.isEmpty()) {
    Q_EMIT message(QStringLiteral("%1 has no run.json yet: which dataset it writes is unknown").arg(r->dir));
    return;
  }
  if (!QFileInfo(db).isFile()) {
    Q_EMIT message(
        QStringLiteral("The dataset %1 does not exist yet: the job creates it with its first image").arg(db));
    return;
  }
  Q_EMIT openDatasetForReview(db);
}

int TrainingDashboard::currentRun() const { return run_list_->currentRow(); }

void TrainingDashboard::selectRun(int index) { run_list_->setCurrentRow(index); }

int TrainingDashboard::runningCount() const {
  return static_cast<int>(std::count_if(runs_.begin(), runs_.end(), [](const auto& r) { return r->running(); }));
}

int TrainingDashboard::addRun(const QString& dirIn) {
  const QString dir = QDir::cleanPath(QFileInfo(dirIn).absoluteFilePath());
  for (int i = 0; i < runCount(); ++i)
    if (runs_[static_cast<size_t>(i)]->dir == dir) return i;
  auto r = std::make_unique<Run>();
  r->dir = dir;
  r->follower = std::make_unique<RunFollower>(dir);
  r->follower->setPollInterval(options_.pollIntervalMs);
  Run* raw = r.get();
  connect(r->follower.get(), &RunFollower::changed, this, [this, raw] { onRunChanged(raw); });
  connect(r->follower.get(), &RunFollower::configChanged, this, [this, raw] { onRunChanged(raw); });
  connect(r->follower.get(), &RunFollower::warning, this, [this, raw](const QString& w) {
    raw->processLines.append(QStringLiteral("warning: ") + w);
    Q_EMIT message(raw->name() + QStringLiteral(": ") + w);
    onRunChanged(raw);
  });
  runs_.push_back(std::move(r));
  run_list_->appendRow();
  const int index = runCount() - 1;
  raw->follower->start();
  updateRunItem(index);
  updateCompareChoices();
  if (options_.persistRuns) saveRunList();
  return index;
}

int TrainingDashboard::attach(const QString& runDirectory) {
  if (!QFileInfo(runDirectory).isDir()) {
    Q_EMIT message(QStringLiteral("%1 is not a folder").arg(runDirectory));
    return -1;
  }
  const int i = addRun(runDirectory);
  Run* r = run(i);
  if (!QFileInfo::exists(r->follower->eventsPath()))
    Q_EMIT message(
        QStringLiteral("%1 has no events.jsonl yet; the dashboard will show the run when it starts").arg(r->dir));
  selectRun(i);
  return i;
}

bool TrainingDashboard::startJob(Run& r, const TrainingJobSpec& spec) {
  return startProcess(r, spec.arguments(), spec.environment(), spec.commandLine(options_.trainerProgram));
}

bool TrainingDashboard::startProcess(Run& r, const QStringList& args, const QMap<QString, QString>& env,
                                     const QString& command) {
  if (!r.runner) {
    r.runner = std::make_unique<TrainingJobRunner>();
    Run* raw = &r;
    connect(r.runner.get(), &TrainingJobRunner::outputLine, this, [this, raw](const QString& line, bool err) {
      if (!err && line.startsWith(QLatin1Char('{'))) return;  // events: read from the run folder
      raw->processLines.append(line);
      if (raw->processLines.size() > TrainingJobRunner::kTailLines) raw->processLines.removeFirst();
      if (run(currentRun()) == raw) updateLog();
    });
    connect(r.runner.get(), &TrainingJobRunner::finished, this, [this, raw](bool ok, const QString& msgIn) {
      QString msg = msgIn;
      if (raw->dataset()) {
        // make-dataset exits with 130 when a stop request ended it after the current image.
        if (!ok && raw->runner->stopRequested() && raw->runner->exitCode() == 130) ok = true;
        if (ok && raw->runner->stopRequested()) msg = QStringLiteral("stopped after the current image");
      }
      raw->exitOk = ok;
      raw->exitMessage = msg;
      raw->follower->poll();  // the last events
      Q_EMIT message(raw->name() + QStringLiteral(": ") + msg);
      onRunChanged(raw);
    });
  }
  r.command = command;
  r.exitMessage.clear();
  r.exitOk = true;
  r.processLines.clear();
  r.processLines.append(QStringLiteral("$ ") + r.command);
  if (!r.runner->start(options_.trainerProgram, args, env)) {
    r.exitOk = false;
    r.exitMessage = r.runner->errorMessage();
    Q_EMIT message(r.exitMessage);
    onRunChanged(&r);
    return false;
  }
  onRunChanged(&r);
  return true;
}

int TrainingDashboard::launch(const TrainingJobSpec& spec) {
  const QStringList problems = spec.problems();
  if (!problems.isEmpty()) {
    Q_EMIT message(QStringLiteral("Cannot launch: ") + problems.join(QStringLiteral("; ")));
    return -1;
  }
  const QString dir = QFileInfo(spec.outputDir()).absoluteFilePath();
  for (int i = 0; i < runCount(); ++i) {
    if (run(i)->dir == QDir::cleanPath(dir) && run(i)->running()) {
      Q_EMIT message(QStringLiteral("A job is already running in %1").arg(dir));
      return -1;
    }
  }
  const int i = addRun(dir);
  if (!startJob(*run(i), spec)) {
    selectRun(i);
    return i;
  }
  selectRun(i);
  return i;
}

int TrainingDashboard::launchDataset(const DatasetJobSpec& spec) {
  const QStringList problems = spec.problems();
  if (!problems.isEmpty()) {
    Q_EMIT message(QStringLiteral("Cannot launch: ") + problems.join(QStringLiteral("; ")));
    return -1;
  }
  const QString dir = QDir::cleanPath(QFileInfo(spec.runDirectory()).absoluteFilePath());
  for (int i = 0; i < runCount(); ++i) {
    if (run(i)->dir == dir && run(i)->running()) {
      Q_EMIT message(QStringLiteral("A job is already running in %1").arg(dir));
      return -1;
    }
  }
  const int i = addRun(dir);
  Run* r = run(i);
  r->launchedAsDataset = true;
  r->datasetDb = spec.db.trimmed();
  startProcess(*r, spec.arguments(), spec.environment(), spec.commandLine(options_.trainerProgram));
  selectRun(i);
  return i;
}

void TrainingDashboard::stopRun(int index) {
  Run* r = run(index);
  if (!r || !r->running()) return;
  r->runner->stop();
  r->processLines.append(r->dataset() ? QStringLiteral("stop requested: finishing the current image…")
                                      : QStringLiteral("stop requested: finishing the step and writing a checkpoint…"));
  onRunChanged(r);
}

int TrainingDashboard::resumeRun(int index, const QString& checkpoint) {
  Run* r = run(index);
  if (!r) return -1;
  if (r->running()) {
    Q_EMIT message(QStringLiteral("%1 is still running").arg(r->name()));
    return -1;
  }
  if (r->follower->config().isEmpty()) {
    Q_EMIT message(
        QStringLiteral("%1 has no run.json: its settings are unknown, so it cannot be resumed here").arg(r->dir));
    return -1;
  }
  if (r->dataset()) {
    // A dataset job continues by running the same command: done images are skipped.
    const DatasetJobSpec spec = DatasetJobSpec::fromRunJson(r->follower->config(), r->dir);
    const QStringList problems = spec.problems();
    if (!problems.isEmpty()) {
      Q_EMIT message(QStringLiteral("Cannot run %1 again: %2").arg(r->name(), problems.join(QStringLiteral("; "))));
      return -1;
    }
    startProcess(*r, spec.arguments(), spec.environment(), spec.commandLine(options_.trainerProgram));
    return index;
  }
  TrainingJobSpec spec = TrainingJobSpec::fromRunJson(r->follower->config(), checkpoint);
  spec.set(QStringLiteral("output-dir"), r->dir);
  const QStringList problems = spec.problems();
  if (!problems.isEmpty()) {
    Q_EMIT message(QStringLiteral("Cannot resume %1: %2").arg(r->name(), problems.join(QStringLiteral("; "))));
    return -1;
  }
  startJob(*r, spec);
  return index;
}

bool TrainingDashboard::removeRun(int index, bool deleteFolder, bool ask) {
  Run* r = run(index);
  if (!r) return false;
  if (r->running()) {
    Q_EMIT message(QStringLiteral("%1 is running: stop it first").arg(r->name()));
    return false;
  }
  if (ask) {
    const auto answer = QMessageBox::question(
        this, QStringLiteral("Delete run"),
        deleteFolder
            ? QStringLiteral("Delete the folder %1 with its checkpoints and images? This cannot be undone.").arg(r->dir)
            : QStringLiteral("Remove %1 from the list? The folder stays.").arg(r->name()));
    if (answer != QMessageBox::Yes) return false;
  }
  const QString dir = r->dir;
  r->follower->stop();
  if (compare_ == index)
    compare_ = -1;
  else if (compare_ > index)
    --compare_;
  runs_.erase(runs_.begin() + index);
  run_list_->removeRow(index);
  if (deleteFolder && !QDir(dir).removeRecursively()) {
    Q_EMIT message(QStringLiteral("Could not delete everything in %1 (permissions?)").arg(dir));
  }
  if (options_.persistRuns) saveRunList();
  updateCompareChoices();
  showRun(currentRun());
  return true;
}

bool TrainingDashboard::stopAllAndWait(int timeoutMs) {
  for (int i = 0; i < runCount(); ++i) stopRun(i);
  QElapsedTimer t;
  t.start();
  while (runningCount() > 0 && t.elapsed() < timeoutMs) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    QThread::msleep(10);
  }
  return runningCount() == 0;
}

void TrainingDashboard::refreshNow() {
  for (auto& r : runs_) r->follower->poll();
  chart_timer_->stop();
  updateHeader();  // also what is not in the events (a dataset database that appeared)
  updateCharts();
}

void TrainingDashboard::onRunChanged(Run* r) {
  for (int i = 0; i < runCount(); ++i) {
    if (run(i) != r) continue;
    updateRunItem(i);
    if (!r->comparable && !r->follower->history().points().isEmpty()) {
      r->comparable = true;
      updateCompareChoices();
    }
    if (i == currentRun()) {
      syncMode();
      updateHeader();
      scheduleCharts();
      updateImages();
      updateCheckpoints();
      updateLog();
    } else if (i == compare_) {
      scheduleCharts();
    }
  }
}

void TrainingDashboard::updateRunItem(int index) {
  Run* r = run(index);
  if (!r) return;
  const RunHistory& h = r->follower->history();
  static const char* kShort[] = {"waiting", "running", "finished", "stopped", "failed"};
  QString state = QString::fromLatin1(kShort[static_cast<int>(h.state())]);
  QColor dot(0x9e, 0x9e, 0x9e);
  if (r->running()) {
    state = r->runner->stopRequested() ? QStringLiteral("stopping…") : QStringLiteral("running");
    dot = QColor(0x2e, 0x9d, 0x4f);
  } else if (!r->exitOk || h.state() == RunHistory::State::Failed) {
    state = QStringLiteral("failed");
    dot = QColor(0xc0, 0x39, 0x2b);
  } else if (h.state() == RunHistory::State::Finished) {
    dot = QColor(0x2a, 0x7a, 0xd8);
  } else if (h.state() == RunHistory::State::Running && !r->runner) {
    state = QStringLiteral("running elsewhere");
    dot = QColor(0x2e, 0x9d, 0x4f);
  }
  if (r->dataset()) {
    // Dataset jobs say so, count images, and have a square mark.
    const QString images =
        h.maxSteps() > 0 ? QStringLiteral(" · %1/%2 images").arg(h.step()).arg(h.maxSteps()) : QString();
    run_list_->setRow(index, r->name(), QStringLiteral("dataset job · ") + state + images, dot,
                      QStringLiteral("Dataset job (make-dataset) in %1\ndataset: %2").arg(r->dir, r->db()), true);
    return;
  }
  const QString steps = h.maxSteps() > 0 ? QStringLiteral(" · %1/%2").arg(h.step()).arg(h.maxSteps()) : QString();
  run_list_->setRow(index, r->name(), state + steps, dot, r->dir);
}

void TrainingDashboard::showRun(int index) {
  auto* stack = qobject_cast<QStackedWidget*>(monitor_->parentWidget());
  if (stack) stack->setCurrentWidget(index >= 0 ? static_cast<QWidget*>(monitor_) : placeholder_);
  outputs_->clearImages();
  outputs_->datasetStrip()->clearImages();
  for (auto& r : runs_) {
    r->imagesShown = 0;
    r->checkpointsShown.clear();
  }
  syncMode();
  if (compare_ == index) compare_ = -1;
  updateCompareChoices();
  updateHeader();
  updateCharts();
  updateImages();
  updateCheckpoints();
  updateLog();
}

void TrainingDashboard::syncMode() {
  Run* r = run(currentRun());
  const bool dataset = r && r->dataset();
  if (dataset != monitor_panel_->datasetMode()) {
    monitor_panel_->setDatasetMode(dataset);
    scheduleCharts();
  }
  outputs_->setDatasetMode(dataset);
}

void TrainingDashboard::updateHeader() {
  Run* r = run(currentRun());
  if (!r) return;
  const RunHistory& h = r->follower->history();
  monitor_panel_->setTitle(r->name());
  if (r->dataset()) {
    QStringList parts;
    QString state = h.stateText();
    if (r->running())
      state =
          r->runner->stopRequested() ? QStringLiteral("stopping after the current image…") : QStringLiteral("running");
    else if (h.state() == RunHistory::State::Running && !r->runner)
      state = QStringLiteral("running elsewhere (attached)");
    parts << QStringLiteral("dataset job: ") + state;
    const int ranks = r->follower->config().value(QStringLiteral("world_size")).toInt(1);
    if (h.maxSteps() > 0)
      parts << QStringLiteral("image %1 of %2").arg(h.step()).arg(h.maxSteps()) +
                   (ranks > 1 ? QStringLiteral(" (rank 0's share of %1 ranks)").arg(ranks) : QString());
    if (!h.points().isEmpty() && std::isfinite(h.points().last().imagesPerSecond))
      parts << QStringLiteral("%1 images/s").arg(h.points().last().imagesPerSecond, 0, 'f', 2);
    if (h.imagesReported() > 0) parts << QStringLiteral("%1 boxes kept").arg(h.boxesKept());
    if (h.imagesFailed() > 0) parts << QStringLiteral("%1 unreadable").arg(h.imagesFailed());
    const bool active = h.state() == RunHistory::State::Running;
    if (active && h.maxSteps() > 0) parts << QStringLiteral("ETA ") + duration(h.etaSeconds());
    const QJsonObject& done = h.doneSummary();
    if (!active && !done.isEmpty()) {
      parts << QStringLiteral("%1 processed, %2 already done, %3 in the folder")
                   .arg(done.value(QStringLiteral("processed")).toInteger())
                   .arg(done.value(QStringLiteral("already_done")).toInteger())
                   .arg(done.value(QStringLiteral("images_in_folder")).toInteger());
    }
    if (r->follower->skippedLines() > 0)
      parts << QStringLiteral("%1 unreadable event lines skipped").arg(r->follower->skippedLines());
    QString text = parts.join(QStringLiteral(" · ")).toHtmlEscaped();
    QString error = h.state() == RunHistory::State::Failed ? h.errorMessage() : QString();
    if (!r->exitOk && !r->exitMessage.isEmpty()) error = r->exitMessage;
    if (!error.isEmpty())
      text += QStringLiteral("<br><span style='color:#c0392b'><b>Error:</b> %1</span>").arg(error.toHtmlEscaped());
    else if (!r->exitMessage.isEmpty() && !r->running() && r->exitMessage != QLatin1String("finished"))
      text += QStringLiteral("<br>process: %1").arg(r->exitMessage.toHtmlEscaped());
    const QString db = r->db();
    // The run folder usually sits beside the database: its name is enough then.
    const QString folder = !db.isEmpty() && QFileInfo(r->dir).absolutePath() == QFileInfo(db).absolutePath()
                               ? QFileInfo(r->dir).fileName() + QLatin1Char('/')
                               : r->dir;
    text += QStringLiteral("<br><span style='color:palette(mid)'>dataset %1 · run folder %2</span>")
                .arg((db.isEmpty() ? QStringLiteral("(unknown until run.json is written)") : db).toHtmlEscaped(),
                     folder.toHtmlEscaped());
    monitor_panel_->setStatusHtml(text);
    monitor_panel_->setProgress(h.step(), h.maxSteps());
    RunMonitorPanel::Actions a;
    a.stop = r->running() && !r->runner->stopRequested();
    a.stopTip = r->runner || !active
                    ? QStringLiteral("Finish the current image and stop; Resume continues with the next")
                    : QStringLiteral("Started outside the studio: stop it where it runs");
    a.resume = !r->running() && !r->follower->config().isEmpty() && !(active && !r->runner);
    a.remove = !r->running();
    a.copyCommand = !r->command.isEmpty() || !r->follower->config().isEmpty();
    a.relaunch = a.resume;
    a.openInReview = !db.isEmpty() && QFileInfo(db).isFile();
    a.openInReviewTip = a.openInReview
                            ? QStringLiteral("Open %1 in the studio's review window").arg(db)
                            : QStringLiteral("The dataset does not exist yet: the job creates it with its first image");
    monitor_panel_->setActions(a);
    return;
  }
  QStringList parts;
  QString state = h.stateText();
  if (r->running())
    state = r->runner->stopRequested() ? QStringLiteral("stopping (writing a checkpoint)…") : QStringLiteral("running");
  else if (h.state() == RunHistory::State::Running && !r->runner)
    state = QStringLiteral("running elsewhere (attached)");
  parts << state;
  if (h.maxSteps() > 0) parts << QStringLiteral("step %1 of %2").arg(h.step()).arg(h.maxSteps());
  if (!h.points().isEmpty()) {
    const RunPoint& p = h.points().last();
    if (std::isfinite(p.loss)) parts << QStringLiteral("loss %1").arg(p.loss, 0, 'g', 4);
    if (std::isfinite(p.samplesPerSecond)) parts << QStringLiteral("%1 samples/s").arg(p.samplesPerSecond, 0, 'f', 2);
  }
  const bool active = h.state() == RunHistory::State::Running;
  if (active) parts << QStringLiteral("ETA ") + duration(h.etaSeconds());
  if (active && h.lastEventTime() > 0) {
    const double ago = QDateTime::currentMSecsSinceEpoch() / 1000.0 - h.lastEventTime();
    if (ago > 120) parts << QStringLiteral("no event for %1").arg(duration(ago));
  }
  if (r->follower->skippedLines() > 0)
    parts << QStringLiteral("%1 unreadable event lines skipped").arg(r->follower->skippedLines());
  QString text = parts.join(QStringLiteral(" · ")).toHtmlEscaped();
  QString error = h.state() == RunHistory::State::Failed ? h.errorMessage() : QString();
  if (!r->exitOk && !r->exitMessage.isEmpty()) error = r->exitMessage;
  if (!error.isEmpty())
    text += QStringLiteral("<br><span style='color:#c0392b'><b>Error:</b> %1</span>").arg(error.toHtmlEscaped());
  else if (!r->exitMessage.isEmpty() && !r->running() && r->exitMessage != QLatin1String("finished"))
    text += QStringLiteral("<br>process: %1").arg(r->exitMessage.toHtmlEscaped());
  text += QStringLiteral("<br><span style='color:palette(mid)'>%1</span>").arg(r->dir.toHtmlEscaped());
  monitor_panel_->setStatusHtml(text);
  monitor_panel_->setProgress(h.step(), h.maxSteps());
  RunMonitorPanel::Actions a;
  a.stop = r->running() && !r->runner->stopRequested();
  a.stopTip = r->runner || !active ? QStringLiteral("Finish the current step, write a checkpoint and exit")
                                   : QStringLiteral("Started outside the studio: stop it where it runs");
  const bool canResume = !r->running() && !r->follower->config().isEmpty() && h.state() != RunHistory::State::Finished;
  a.resume = canResume && !(active && !r->runner);
  a.remove = !r->running();
  a.copyCommand = !r->command.isEmpty() || !r->follower->config().isEmpty();
  a.relaunch = !r->running() && !r->follower->config().isEmpty() && !(active && !r->runner);
  monitor_panel_->setActions(a);
  const bool haveCkpt = outputs_->hasSelectedCheckpoint();
  outputs_->setCheckpointActions(
      haveCkpt && !r->follower->config().isEmpty(),
      haveCkpt && !r->running() && !r->follower->config().isEmpty() && outputs_->selectedCheckpointStep() >= 0);
}

void TrainingDashboard::updateCharts() {
  Run* r = run(currentRun());
  Run* c = run(compare_);
  QString legend;
  if (r && c) {
    for (int slot = 0; slot < 2; ++slot)
      legend += QStringLiteral("<span style='color:%1'>&#9473;&#9473;</span> %2&nbsp;&nbsp;")
                    .arg(MetricChart::seriesColor(slot).name(), (slot == 0 ? r : c)->name().toHtmlEscaped());
  }
  monitor_panel_->setLegendHtml(legend);
  const int mode = monitor_panel_->datasetMode() ? 1 : 0;
  if (mode != charts_mode_) {
    // The hidden set lets go of the histories (a run may be removed while they are hidden).
    charts_mode_ = mode;
    for (MetricChart* chart : monitor_panel_->charts())
      if (isDatasetMetric(chart->metric()) != (mode == 1)) chart->setRuns(nullptr, QString());
  }
  monitor_panel_->setValidationChartsShown(r && r->follower->history().hasGrounding(),
                                           r && r->follower->history().hasShapesHitRate());
  for (MetricChart* chart : monitor_panel_->activeCharts()) {
    chart->setRuns(r ? &r->follower->history() : nullptr, r ? r->name() : QString(),
                   c ? &c->follower->history() : nullptr, c ? c->name() : QString());
  }
}

void TrainingDashboard::scheduleCharts() {
  if (!chart_timer_->isActive()) chart_timer_->start();
}

void TrainingDashboard::setLogScale(bool on) { monitor_panel_->setLogScale(on); }

void TrainingDashboard::setCompareRun(int index) {
  compare_ = (index == currentRun() || !run(index)) ? -1 : index;
  if (compare_ >= 0 && run(currentRun()) && run(compare_)->dataset() != run(currentRun())->dataset()) compare_ = -1;
  updateCompareChoices();
  updateCharts();
}

void TrainingDashboard::updateCompareChoices() {
  // Only runs with data to draw: a run that failed before its first step has nothing to compare.
  QVector<QPair<QString, int>> choices;
  for (int i = 0; i < runCount(); ++i)
    if (i != currentRun() && !run(i)->follower->history().points().isEmpty() &&
        (!run(currentRun()) || run(i)->dataset() == run(currentRun())->dataset()))
      choices.append({run(i)->name(), i});
  monitor_panel_->setCompareChoices(choices, compare_);
}

void TrainingDashboard::updateImages() {
  Run* r = run(currentRun());
  if (!r) return;
  if (r->dataset()) {
    outputs_->datasetStrip()->showHistory(r->follower->history(), r->configPath("images"));
    outputs_->setDatasetImageCount(r->follower->history().imagesReported());
    return;
  }
  const auto& list = r->follower->history().images();
  if (r->imagesShown > list.size()) {  // the history was reset (run folder reused)
    outputs_->clearImages();
    r->imagesShown = 0;
  }
  for (int i = r->imagesShown; i < list.size(); ++i) outputs_->addImage(list[i].step, list[i].path);
  r->imagesShown = static_cast<int>(list.size());
  outputs_->setImageCount(static_cast<int>(list.size()));
}

void TrainingDashboard::updateCheckpoints() {
  Run* r = run(currentRun());
  // Progress events arrive every step; the list (a folder scan) changes only with checkpoint,
  // done and error events, or when the run shown changes.
  if (r) {
    const RunHistory& h = r->follower->history();
    const QString key = QStringLiteral("%1/%2/%3/%4")
                            .arg(h.checkpoints().size())
                            .arg(static_cast<int>(h.state()))
                            .arg(h.revision())
                            .arg(r->running());
    if (key == r->checkpointsShown && checkpointList()->topLevelItemCount() > 0) return;
    r->checkpointsShown = key;
  }
  if (!r || r->dataset()) {
    outputs_->setCheckpoints({});
    return;
  }
  QVector<RunOutputsPanel::CheckpointRow> rows;
  const QString finalUnet = QDir(r->dir).filePath(QStringLiteral("unet"));
  if (QFileInfo::exists(QDir(finalUnet).filePath(QStringLiteral("config.json"))))
    rows.append({QStringLiteral("final"), QFileInfo(finalUnet).lastModified(), finalUnet, -1,
                 QStringLiteral("The trained UNet saved when the run finished")});
  for (const auto& [step, path] : checkpointsOnDisk(r->dir))
    rows.append({QString::number(step), QFileInfo(path).lastModified(), path, step, QString()});
  outputs_->setCheckpoints(rows);
  updateHeader();
}

void TrainingDashboard::updateLog() {
  Run* r = run(currentRun());
  if (!r) {
    outputs_->setLogText(QString());
    return;
  }
  QStringList lines = r->follower->history().logTail();
  for (const QString& l : r->processLines) lines << l;
  outputs_->setLogText(lines.join(QLatin1Char('\n')));
}

QString TrainingDashboard::modelFolderOf(const Run& r) const {
  return QFileInfo(r.follower->config().value(QStringLiteral("pretrained_model")).toString()).absoluteFilePath();
}

void TrainingDashboard::generateFromSelectedCheckpoint() {
  Run* r = run(currentRun());
  if (!r || !outputs_->hasSelectedCheckpoint()) return;
  const QString checkpoint = outputs_->selectedCheckpointPath();
  if (r->follower->config().isEmpty()) {
    Q_EMIT message(QStringLiteral("%1 has no run.json: which model it trains is unknown").arg(r->dir));
    return;
  }
  QString model = modelFolderOf(*r);
  // Checkpoints record the absolute model folder; run.json has it as it was typed.
  QFile manifest(QDir(checkpoint).filePath(QStringLiteral("manifest.json")));
  if (manifest.open(QIODevice::ReadOnly)) {
    const QString recorded = QJsonDocument::fromJson(manifest.readAll())
                                 .object()
                                 .value(QStringLiteral("extra"))
                                 .toObject()
                                 .value(QStringLiteral("pretrained_model"))
                                 .toString();
    if (!recorded.isEmpty()) model = recorded;
  }
  Q_EMIT generateWithCheckpoint(model, checkpoint);
}

void TrainingDashboard::resumeFromSelectedCheckpoint() {
  Run* r = run(currentRun());
  if (!r || !outputs_->hasSelectedCheckpoint() || outputs_->selectedCheckpointStep() < 0) return;
  const qint64 step = outputs_->selectedCheckpointStep();
  const QString checkpoint = outputs_->selectedCheckpointPath();
  // Resuming in the run's own folder retrains the later steps: their checkpoints and the final
  // UNet get overwritten. Say so, and offer a branch in a new folder instead.
  QStringList later;
  for (const auto& [s, path] : checkpointsOnDisk(r->dir))
    if (s > step) later.prepend(QString::number(s));
  const bool finalUnet = QFileInfo::exists(QDir(r->dir).filePath(QStringLiteral("unet/config.json")));
  if (later.isEmpty() && !finalUnet) {
    resumeRun(currentRun(), checkpoint);
    return;
  }
  QStringList lost;
  if (!later.isEmpty()) lost << tr("the checkpoints of steps %1").arg(later.join(QStringLiteral(", ")));
  if (finalUnet) lost << tr("the final trained UNet");
  QMessageBox box(QMessageBox::Question, tr("Resume from step %1").arg(step),
                  tr("Resuming “%1” from step %2 in its own folder trains the later steps again and overwrites %3.")
                      .arg(r->name())
                      .arg(step)
                      .arg(lost.join(tr(" and "))),
                  QMessageBox::NoButton, this);
  box.setInformativeText(tr("Resume in a New Run Folder keeps this run as it is and continues in a copy that "
                            "starts from step %1.")
                             .arg(step));
  box.setObjectName(QStringLiteral("resumeFromHereBox"));
  QPushButton* branch = box.addButton(tr("Resume in a New Run Folder"), QMessageBox::AcceptRole);
  QPushButton* overwrite = box.addButton(tr("Overwrite Later Steps"), QMessageBox::DestructiveRole);
  box.addButton(QMessageBox::Cancel);
  box.setDefaultButton(branch);
  box.exec();
  if (box.clickedButton() == branch)
    branchRun(currentRun(), checkpoint, step);
  else if (box.clickedButton() == overwrite)
    resumeRun(currentRun(), checkpoint);
}

int TrainingDashboard::branchRun(int index, const QString& checkpoint, qint64 step) {
  Run* r = run(index);
  if (!r) return -1;
  if (r->follower->config().isEmpty()) {
    Q_EMIT message(
        QStringLiteral("%1 has no run.json: its settings are unknown, so it cannot be resumed here").arg(r->dir));
    return -1;
  }
  QString dir = r->dir + QStringLiteral("-from-step-%1").arg(step);
  for (int k = 2; QFileInfo::exists(dir); ++k) dir = r->dir + QStringLiteral("-from-step-%1-%2").arg(step).arg(k);
  TrainingJobSpec spec = TrainingJobSpec::fromRunJson(r->follower->config(), QFileInfo(checkpoint).absoluteFilePath());
  spec.set(QStringLiteral("output-dir"), dir);
  return launch(spec);
}

void TrainingDashboard::setStudioContext(const QString& modelFolder, const QString& datasetPath) {
  context_model_ = modelFolder;
  context_dataset_ = datasetPath;
}

TrainingJobSpec TrainingDashboard::newJobSpec() const {
  Run* r = run(currentRun());
  if (r && r->dataset()) {
    // The usual next job after making a dataset: train on it.
    TrainingJobSpec spec;
    if (!context_model_.isEmpty()) spec.set(QStringLiteral("pretrained-model"), context_model_);
    if (!r->db().isEmpty()) {
      spec.set(QStringLiteral("data-path"), r->db());
      spec.set(QStringLiteral("embed-with-model"), QStringLiteral("1"));
    }
    return spec;
  }
  if (r && !r->follower->config().isEmpty()) {
    // Start from the selected run's settings: the usual next job is a variation of it.
    TrainingJobSpec spec = TrainingJobSpec::fromRunJson(r->follower->config(), QString());
    QString dir = r->dir + QStringLiteral("-2");
    for (int k = 3; QFileInfo::exists(dir); ++k) dir = r->dir + QStringLiteral("-%1").arg(k);
    spec.set(QStringLiteral("output-dir"), dir);
    return spec;
  }
  TrainingJobSpec spec;
  if (!context_model_.isEmpty()) spec.set(QStringLiteral("pretrained-model"), context_model_);
  if (!context_dataset_.isEmpty()) {
    spec.set(QStringLiteral("data-path"), context_dataset_);
    // An annotation dataset knows its image root and needs re-embedded captions only when edited.
    spec.set(QStringLiteral("embed-with-model"), QStringLiteral("1"));
  }
  return spec;
}

void TrainingDashboard::newJobDialog() { runNewJobDialog(false); }

void TrainingDashboard::newDatasetJobDialog() { runNewJobDialog(true); }

void TrainingDashboard::runNewJobDialog(bool datasetPage) {
  NewTrainingDialog dialog(options_.trainerProgram, this, options_.tinyModelFolder);
  dialog.setSpec(newJobSpec());
  Run* r = run(currentRun());
  if (r && r->dataset() && !r->follower->config().isEmpty()) {
    // The selected dataset job's settings; its dataset also seeds the training page.
    dialog.setDatasetSpec(DatasetJobSpec::fromRunJson(r->follower->config(), r->dir));
  }
  if (datasetPage) dialog.setJobKind(NewTrainingDialog::JobKind::Dataset);
  if (dialog.exec() != QDialog::Accepted) return;
  if (dialog.jobKind() == NewTrainingDialog::JobKind::Dataset)
    launchDataset(dialog.datasetSpec());
  else
    launch(dialog.spec());
}

void TrainingDashboard::editAndRelaunch(int index) {
  Run* r = run(index);
  if (!r || r->running()) return;
  if (r->follower->config().isEmpty()) {
    Q_EMIT message(QStringLiteral("%1 has no run.json: its settings are unknown").arg(r->dir));
    return;
  }
  NewTrainingDialog dialog(options_.trainerProgram, this, options_.tinyModelFolder);
  dialog.setWindowTitle(QStringLiteral("Edit and Relaunch — %1").arg(r->name()));
  if (r->dataset()) {
    dialog.setDatasetSpec(DatasetJobSpec::fromRunJson(r->follower->config(), r->dir));
    if (dialog.exec() != QDialog::Accepted) return;
    if (dialog.jobKind() == NewTrainingDialog::JobKind::Dataset)
      launchDataset(dialog.datasetSpec());
    else
      launch(dialog.spec());
    return;
  }
  TrainingJobSpec spec = TrainingJobSpec::fromRunJson(r->follower->config(), QString());
  spec.set(QStringLiteral("output-dir"), r->dir);
  dialog.setSpec(spec);
  if (dialog.exec() != QDialog::Accepted) return;
  if (dialog.jobKind() == NewTrainingDialog::JobKind::Dataset)
    launchDataset(dialog.datasetSpec());
  else
    launch(dialog.spec());
}

void TrainingDashboard::attachDialog() {
  const QString dir =
      QFileDialog::getExistingDirectory(this, QStringLiteral("Attach Run Folder"), settings_.lastDirectory.get());
  if (dir.isEmpty()) return;
  settings_.lastDirectory.set(dir);
  attach(dir);
}

void TrainingDashboard::saveRunList() {
  QStringList dirs;
  for (const auto& r : runs_) dirs << r->dir;
  settings_.trainingRuns.set(dirs);
}

void TrainingDashboard::restoreRunList() {
  for (const QString& dir : settings_.trainingRuns.get()) {
    if (QFileInfo(dir).isDir())
      addRun(dir);
    else
      Q_EMIT message(QStringLiteral("The run folder %1 is gone; removed from the list").arg(dir));
  }
  saveRunList();
}

}  // namespace gligen::ui
