// The training dashboard: following events.jsonl (partial, malformed and rewound lines), series
// decimation, the job spec and its command line (checked against the trainer's own --help), and
// the dashboard driving the real gligen-trainer on the tiny fixture model: events arrive, charts
// get points, Stop leaves a checkpoint, Resume continues the step count, a failing trainer shows
// its message, a prepared run folder can be attached. Screenshots go to $GLIGEN_SCREENSHOT_DIR
// (default: the test's working folder).
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QTabWidget>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QApplication>
#include <QMessageBox>
#include <QTimer>
#include <QtTest>
#include <functional>
#include <cmath>
#include <random>

#include "support/fixtures.h"
#include "support/studio_window.h"
#include "support/test_main.h"
#include "support/trainer_process.h"
#include "ui/studio/generation_panel.h"
#include "ui/studio/main_window.h"
#include "ui/dashboard/metric_chart.h"
#include "ui/dashboard/new_training_dialog.h"
#include "ui/jobs/run_follower.h"
#include "ui/dashboard/series_decimation.h"
#include "ui/dashboard/training_dashboard.h"
#include "ui/jobs/training_job_runner.h"
#include "ui/jobs/training_job_spec.h"

using namespace gligen::ui;

namespace {

QString trainer() { return QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")); }
QString fixture(const char* rel) { return QString::fromStdString(gligen::test::fixture(rel)); }

void appendText(const QString& path, const QByteArray& text) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::Append));
  f.write(text);
}

QByteArray progressLine(int step, double loss, int maxSteps = 100) {
  return QStringLiteral(
             "{\"t\":%1,\"kind\":\"progress\",\"step\":%2,\"max_steps\":%3,\"loss\":%4,\"lr\":0.001,"
             "\"samples_per_s\":4.0,\"step_time_s\":0.5,\"data_wait_s\":0.05,\"memory_mb\":300,\"eta_s\":10}\n")
      .arg(1.7e9 + step)
      .arg(step)
      .arg(maxSteps)
      .arg(loss)
      .toUtf8();
}

TrainingJobSpec tinySpec(const QString& out, int steps) {
  TrainingJobSpec s;
  s.values = {{"pretrained-model", fixture("tiny-gligen")},
              {"data-path", fixture("dataset/train_data.json")},
              {"image-path", fixture("dataset")},
              {"output-dir", out},
              {"resolution", "32"},
              {"train-batch-size", "2"},
              {"max-train-steps", QString::number(steps)},
              {"checkpointing-steps", "2"},
              {"learning-rate", "1e-3"},
              {"embed-with-model", "1"},
              {"threads", "1"}};
  return s;
}

bool waitFor(const std::function<bool()>& done, int timeoutMs) {
  QElapsedTimer t;
  t.start();
  while (!done()) {
    if (t.elapsed() > timeoutMs) return false;
    QTest::qWait(50);
  }
  return true;
}

void screenshot(QWidget& w, const QString& name) {
  QString dir = QString::fromLocal8Bit(qgetenv("GLIGEN_SCREENSHOT_DIR"));
  if (dir.isEmpty()) dir = QDir::currentPath();
  QDir().mkpath(dir);
  const QString path = QDir(dir).filePath(name);
  QVERIFY2(w.grab().save(path), qPrintable(path));
  qInfo("screenshot: %s", qPrintable(path));
}

}  // namespace

class TestTrainingDashboard : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("gligen-studio-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_training_dashboard"));
    QSettings().clear();
    QVERIFY2(QFileInfo(trainer()).isExecutable(), "GLIGEN_TRAINER must name the built gligen-trainer");
  }

  void followerReadsCompleteLinesAndSkipsBadOnes() {
    const QString run = dir_.filePath("follow");
    QDir().mkpath(run);
    const QString events = run + "/events.jsonl";
    RunFollower f(run);
    QSignalSpy warnings(&f, &RunFollower::warning);
    f.poll();  // no file yet: nothing, no warning
    QCOMPARE(f.history().eventCount(), 0);
    QCOMPARE(warnings.count(), 0);

    appendText(events, progressLine(1, 0.5) + progressLine(2, 0.4) + "this is not json\n" + "{\"no_kind\": 1}\n" +
                           progressLine(3, 0.3).left(40));  // the last one is mid-write
    f.poll();
    QCOMPARE(f.history().points().size(), 2);
    QCOMPARE(f.skippedLines(), 2);
    QCOMPARE(warnings.count(), 2);
    QVERIFY(warnings.at(0).at(0).toString().contains("line 3"));
    appendText(events, progressLine(3, 0.3).mid(40));  // the writer finishes the line
    f.poll();
    QCOMPARE(f.history().points().size(), 3);
    QCOMPARE(f.history().points().last().loss, 0.3);
    QCOMPARE(f.history().points().last().dataWaitShare, 0.1);
    QCOMPARE(f.history().maxSteps(), qint64(100));
    QCOMPARE(f.history().state(), RunHistory::State::Running);

    // Resumed from the checkpoint at step 2: the history rewinds, then continues.
    appendText(events,
               QByteArray("{\"t\":1.7e9,\"kind\":\"checkpoint\",\"step\":2,\"path\":\"/x/checkpoint-000002\"}\n") +
                   progressLine(2, 0.45) + progressLine(3, 0.35) + progressLine(4, 0.25));
    f.poll();
    QCOMPARE(f.history().points().size(), 4);
    QCOMPARE(f.history().points()[1].loss, 0.45);
    QCOMPARE(f.history().checkpoints().size(), 1);

    appendText(events, "{\"t\":1.7e9,\"kind\":\"error\",\"message\":\"disk full\"}\n");
    f.poll();
    QCOMPARE(f.history().state(), RunHistory::State::Failed);
    QCOMPARE(f.history().errorMessage(), QStringLiteral("disk full"));

    // The folder is reused by a new run: a shorter file starts the history over.
    QFile::remove(events);
    appendText(events, progressLine(1, 0.9));
    f.poll();
    QCOMPARE(f.history().points().size(), 1);
    QCOMPARE(f.history().points()[0].loss, 0.9);
  }

  void decimationKeepsShapeAndBoundsPoints() {
    const int n = 1000000;
    QVector<double> x(n), y(n);
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0, 0.01);
    for (int i = 0; i < n; ++i) {
      x[i] = i + 1;
      y[i] = 1.0 / std::sqrt(i + 1.0) + noise(rng);
    }
    y[654321] = 5.0;   // a spike
    y[123456] = -3.0;  // a dip
    y[777] = std::nan("");
    const int buckets = 800;
    XYSeries d = decimateMinMax(x, y, 1, n, buckets);
    QVERIFY2(d.size() <= 4 * buckets + 2, qPrintable(QString::number(d.size())));
    QVERIFY(d.size() >= buckets);
    QCOMPARE(*std::max_element(d.y.begin(), d.y.end()), 5.0);
    QCOMPARE(*std::min_element(d.y.begin(), d.y.end()), -3.0);
    QCOMPARE(d.x.first(), 1.0);
    QCOMPARE(d.x.last(), double(n));
    QVERIFY(std::is_sorted(d.x.begin(), d.x.end()));
    for (double v : d.y) QVERIFY(!std::isnan(v));
    // A zoomed range keeps one neighbour on each side and every point when few are visible.
    XYSeries z = decimateMinMax(x, y, 100.5, 110.5, buckets);
    QCOMPARE(z.size(), 12);
    QCOMPARE(z.x.first(), 100.0);
    QCOMPARE(z.x.last(), 111.0);
    // Arbitrary zoom ranges (floating-point bucket edges that fall on sample steps) always
    // finish and stay bounded; a rounding stall here once hung the chart.
    std::uniform_real_distribution<double> pos(0, 20000);
    std::uniform_int_distribution<int> nb(50, 3000);
    const QVector<double> sx = x.mid(0, 20000), sy = y.mid(0, 20000);
    for (int k = 0; k < 3000; ++k) {
      double a = pos(rng), b = pos(rng);
      if (a > b) std::swap(a, b);
      const int nbk = nb(rng);
      const XYSeries r = decimateMinMax(sx, sy, a, b, nbk);
      QVERIFY(r.size() <= 4 * nbk + 2);
      QVERIFY(std::is_sorted(r.x.begin(), r.x.end()));
    }
    // EMA: a constant stays constant (debiased), a step is followed gradually.
    QVector<double> c(50, 2.0);
    for (double v : smoothEma(c, 0.9)) QVERIFY(std::fabs(v - 2.0) < 1e-12);
    QVector<double> s = smoothEma({0, 0, 0, 1, 1, 1}, 0.5);
    QVERIFY(s[3] > 0 && s[3] < 1 && s[5] > s[4] && s[5] < 1);
  }

  void specCommandLineAndProblems() {
    TrainingJobSpec s;
    QStringList p = s.problems();
    QVERIFY(p.join("\n").contains("--data-path"));
    QVERIFY(p.join("\n").contains("--pretrained-model"));
    QVERIFY(p.join("\n").contains("--output-dir"));
    s = tinySpec(dir_.filePath("spec run"), 10);
    QVERIFY2(s.problems().isEmpty(), qPrintable(s.problems().join("; ")));
    s.set("resolution", "30");
    QVERIFY(s.problems().join(" ").contains("multiple of 8"));
    s.set("resolution", "32");
    s.set("learning-rate", "fast");
    QVERIFY(s.problems().join(" ").contains("not a number"));
    s.set("learning-rate", "1e-3");
    s.set("mixed-precision", "fp16");
    QVERIFY(s.problems().join(" ").contains("needs the cuda device"));
    s.set("mixed-precision", "");
    s.set("validation-boxes", "a car: 0.1,0.2,0.5,0.6\na sky: 0,0,1");
    QVERIFY(s.problems().join(" ").contains("a sky"));
    s.set("validation-boxes", "a car: 0.1,0.2,0.5,0.6\na bird's nest: 0.6,0,0.9,0.3");
    QVERIFY(s.problems().isEmpty());

    const QStringList args = s.arguments();
    QCOMPARE(args.first(), QStringLiteral("train"));
    QVERIFY(args.contains("--embed-with-model"));
    QCOMPARE(args.count("--validation-phrase"), 2);
    QCOMPARE(args[args.indexOf("--validation-box") + 1], QStringLiteral("0.1,0.2,0.5,0.6"));
    QCOMPARE(args.last(), QStringLiteral("--events"));
    // Quoted for a shell: the space in the folder and the apostrophe in the phrase survive.
    const QString cmd = s.commandLine("/opt/gligen/bin/gligen-trainer");
    QVERIFY(cmd.startsWith("/opt/gligen/bin/gligen-trainer train "));
    QVERIFY(cmd.contains("'" + dir_.filePath("spec run") + "'"));
    QVERIFY(cmd.contains("'a bird'\\''s nest'"));
    QProcess sh;
    sh.start("sh", {"-c", "for a in " + cmd.section(' ', 1) + "; do echo \"$a\"; done"});
    QVERIFY(sh.waitForFinished());
    QCOMPARE(QString::fromUtf8(sh.readAllStandardOutput()).trimmed().split('\n'), args);

    s.processes = 2;
    s.set("device", "cuda");
    s.gpus = {"0", "1"};
    QVERIFY(s.problems().isEmpty());
    QCOMPARE(s.arguments().mid(0, 6), (QStringList{"launch", "--nproc-per-node", "2", "--master-port", "29500", "--"}));
    QVERIFY(s.commandLine("gligen-trainer").startsWith("CUDA_VISIBLE_DEVICES=0,1 gligen-trainer launch"));
    s.gpus = {"0"};
    QVERIFY(s.problems().join(" ").contains("2 processes need 2 GPUs"));

    const auto presets = TrainingJobSpec::presets("/models/tiny");
    QCOMPARE(presets.size(), 2);
    QCOMPARE(presets[0].spec.processes, 8);
    QCOMPARE(presets[0].spec.value("learning-rate"), QStringLiteral("5e-5"));
    QCOMPARE(presets[1].spec.value("pretrained-model"), QStringLiteral("/models/tiny"));
  }

  void flagTableMatchesTrainerHelp() {
    QProcess p;
    p.start(trainer(), {"train", "--help"});
    QVERIFY(p.waitForFinished(30000));
    const QString help = QString::fromUtf8(p.readAllStandardOutput());
    QRegularExpression re("^\\s+--([a-z0-9-]+)", QRegularExpression::MultilineOption);
    QStringList trainerFlags;
    for (auto it = re.globalMatch(help); it.hasNext();) trainerFlags << it.next().captured(1);
    QVERIFY2(trainerFlags.size() > 30, qPrintable(help));
    // Covered differently: --events (always given), the paired validation flags (the Boxes
    // field), --reset-grounding-params (the default; the form offers its opposite), --help.
    const QStringList covered{"events", "validation-phrase", "validation-box", "reset-grounding-params", "help"};
    for (const QString& f : trainerFlags) {
      if (covered.contains(f)) continue;
      QVERIFY2(findTrainingFlag(f), qPrintable("the form lacks --" + f));
    }
    for (const auto& f : trainingFlags()) {
      if (f.name == "validation-boxes") continue;
      QVERIFY2(trainerFlags.contains(f.name), qPrintable("the trainer has no --" + f.name));
    }
  }

  void newJobDialogShowsProblemsAndCommand() {
    NewTrainingDialog d(trainer());
    QVERIFY(!d.launchButton()->isEnabled());
    QCOMPARE(d.tabs()->count(), 7);
    d.setSpec(tinySpec(dir_.filePath("dialog"), 5));
    QVERIFY2(d.launchButton()->isEnabled(), qPrintable(d.problems().join("; ")));
    auto* lr = qobject_cast<QLineEdit*>(d.field("learning-rate"));
    QVERIFY(lr);
    lr->setText("-1");
    QVERIFY(!d.launchButton()->isEnabled());
    QVERIFY(d.problems().join(" ").contains("Learning rate"));
    lr->setText("2e-4");
    QVERIFY(d.launchButton()->isEnabled());
    QVERIFY(d.commandLine().contains("--learning-rate 2e-4"));
    d.applyPreset(0);
    QVERIFY(d.commandLine().contains("launch --nproc-per-node 8"));
    d.resize(820, 680);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    d.setSpec(tinySpec(dir_.filePath("dialog"), 40));
    screenshot(d, "training-new-job.png");
  }

  // New Job starts from what the studio has open (model, review dataset) when no run is selected,
  // and from the selected run's settings in a new folder otherwise; a run that stopped offers
  // Edit and Relaunch.
  void newJobStartsFromTheStudioContext() {
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    TrainingDashboard d(o);
    d.setStudioContext(fixture("tiny-gligen"), "/data/reviewed.sqlite");
    TrainingJobSpec fresh = d.newJobSpec();
    QCOMPARE(fresh.value("pretrained-model"), fixture("tiny-gligen"));
    QCOMPARE(fresh.value("data-path"), QString("/data/reviewed.sqlite"));
    QVERIFY(fresh.isOn("embed-with-model"));

    const QString out = dir_.filePath("context-run");
    const gligen::test::TrainerRun r = gligen::test::run_trainer(tinySpec(out, 2).trainArguments());
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const int i = d.attach(out);
    d.refreshNow();
    d.selectRun(i);
    TrainingJobSpec variation = d.newJobSpec();
    QCOMPARE(variation.value("pretrained-model"), tinySpec(out, 2).value("pretrained-model"));
    QCOMPARE(QFileInfo(variation.outputDir()).fileName(), QFileInfo(out).fileName() + "-2");
    bool relaunch = false;
    for (QPushButton* b : d.findChildren<QPushButton*>())
      if (b->text() == "Edit and Relaunch…") relaunch = b->isEnabled();
    QVERIFY(relaunch);
  }

  void failingTrainerShowsItsMessage() {
    const QString bad = dir_.filePath("broken.json");
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("[{\"file_path\": ");
    f.close();
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    TrainingDashboard d(o);
    TrainingJobSpec s = tinySpec(dir_.filePath("fails"), 3);
    s.set("data-path", bad);
    QSignalSpy messages(&d, &TrainingDashboard::message);
    const int i = d.launch(s);
    QVERIFY(i >= 0);
    QVERIFY(waitFor([&] { return !d.runner(i)->isRunning(); }, 120000));
    // The error line and the status label follow the exit through the event loop: wait for them.
    waitFor([&] { return d.statusLabel()->text().contains("is not valid JSON"); }, 30000);
    QVERIFY2(d.runner(i)->errorMessage().contains("is not valid JSON"), qPrintable(d.runner(i)->errorMessage()));
    QVERIFY2(d.statusLabel()->text().contains("is not valid JSON"), qPrintable(d.statusLabel()->text()));
    QVERIFY(d.runningCount() == 0);
    // A run that failed before its first step has no data: it is not offered for comparison.
    QComboBox* compare = nullptr;
    for (QComboBox* c : d.findChildren<QComboBox*>())
      if (c->itemText(0) == "(none)") compare = c;
    QVERIFY(compare);
    d.selectRun(-1);
    for (int k = 0; k < compare->count(); ++k) QVERIFY(compare->itemText(k) != "fails");
    // A trainer that cannot even start says so.
    TrainingJobRunner r;
    QSignalSpy finished(&r, &TrainingJobRunner::finished);
    r.start(dir_.filePath("no-such-trainer"), {"train"});
    QVERIFY(finished.count() == 1 || finished.wait(5000));
    QVERIFY(!finished.at(0).at(0).toBool());
    QVERIFY(finished.at(0).at(1).toString().contains("could not start"));
  }

  void runStopResumeWithTheRealTrainer() {
    GLIGEN_SLOW_TEST();
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    d.resize(1280, 820);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    const QString out = dir_.filePath("live");
    const int i = d.launch(tinySpec(out, 5000));
    QVERIFY(i >= 0);
    QVERIFY(d.runner(i)->isRunning());
    // Events arrive and the charts get points.
    QVERIFY2(waitFor([&] { return d.follower(i)->history().points().size() >= 5; }, 300000),
             qPrintable(d.logView()->toPlainText()));
    // Charts redraw on a coalescing timer: wait for the drawn points, with a deadline.
    waitFor(
        [&] {
          return d.chart(RunMetric::Loss)->drawnPoints() >= 5 &&
                 d.chart(RunMetric::SamplesPerSecond)->drawnPoints() >= 5;
        },
        60000);
    QVERIFY(d.chart(RunMetric::Loss)->seriesPoints() >= 5);
    QVERIFY(d.chart(RunMetric::Loss)->drawnPoints() >= 5);
    QVERIFY(d.chart(RunMetric::SamplesPerSecond)->drawnPoints() >= 5);
    QVERIFY(d.statusLabel()->text().contains("running"));
    screenshot(d, "training-dashboard-running.png");

    // Stop: the trainer finishes its step, writes a checkpoint and exits 0.
    d.stopRun(i);
    QVERIFY(waitFor([&] { return !d.runner(i)->isRunning(); }, 120000));
    d.refreshNow();
    QCOMPARE(d.runner(i)->exitCode(), 0);
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Stopped);
    const qint64 stoppedAt = d.follower(i)->history().step();
    QVERIFY(stoppedAt >= 5);
    QVERIFY(QFileInfo::exists(
        QStringLiteral("%1/checkpoints/checkpoint-%2/manifest.json").arg(out).arg(stoppedAt, 6, 10, QLatin1Char('0'))));
    QVERIFY(d.checkpointList()->topLevelItemCount() >= 1);
    QCOMPARE(d.checkpointList()->topLevelItem(0)->text(0), QString::number(stoppedAt));

    // Resume: the step count continues from the checkpoint.
    QCOMPARE(d.resumeRun(i), i);
    QVERIFY(d.runner(i)->isRunning());
    QVERIFY(waitFor([&] { return d.follower(i)->history().step() >= stoppedAt + 3; }, 300000));
    const auto& pts = d.follower(i)->history().points();
    for (int k = 1; k < pts.size(); ++k) QCOMPARE(pts[k].step, pts[k - 1].step + 1);  // one history, no gap or repeat
    QVERIFY(d.runner(i)->arguments().contains("--resume-from-checkpoint"));
    d.stopRun(i);
    QVERIFY(waitFor([&] { return !d.runner(i)->isRunning(); }, 120000));
    QCOMPARE(d.runner(i)->exitCode(), 0);

    // A short second run that finishes, with validation images, compared with the first.
    TrainingJobSpec second = tinySpec(dir_.filePath("finished"), 6);
    second.set("validation-steps", "3");
    second.set("validation-inference-steps", "2");
    second.set("validation-images", "2");
    const int j = d.launch(second);
    QVERIFY(j >= 0);
    QVERIFY(waitFor([&] { return !d.runner(j)->isRunning(); }, 300000));
    d.refreshNow();
    QVERIFY2(d.runner(j)->exitCode() == 0, qPrintable(d.runner(j)->errorMessage()));
    QCOMPARE(d.follower(j)->history().state(), RunHistory::State::Finished);
    QCOMPARE(d.follower(j)->history().images().size(), 2);
    QCOMPARE(d.imageStrip()->count(), 2);
    QVERIFY(!d.imageStrip()->item(0)->icon().isNull());
    QCOMPARE(d.checkpointList()->topLevelItem(0)->text(0), QStringLiteral("final"));
    d.setCompareRun(i);
    QVERIFY(d.chart(RunMetric::Loss)->seriesPoints() > d.follower(j)->history().points().size());

    // Generate with a checkpoint: the run's model and the checkpoint folder.
    QSignalSpy gen(&d, &TrainingDashboard::generateWithCheckpoint);
    d.checkpointList()->setCurrentItem(d.checkpointList()->topLevelItem(1));
    for (QPushButton* b : d.findChildren<QPushButton*>())
      if (b->text() == "Generate with This Checkpoint") b->click();
    QCOMPARE(gen.count(), 1);
    QCOMPARE(QFileInfo(gen.at(0).at(0).toString()).canonicalFilePath(),
             QFileInfo(fixture("tiny-gligen")).canonicalFilePath());
    QVERIFY(gen.at(0).at(1).toString().contains("checkpoint-"));
    d.setLogScale(true);
    QTest::qWait(200);
    screenshot(d, "training-dashboard-finished.png");
  }

  void generateWithCheckpointLoadsItInTheStudio() {
    // A short run of its own (no dependence on another test function's files); the studio loads
    // its first checkpoint as its UNet.
    const QString out = dir_.filePath("for-studio");
    const gligen::test::TrainerRun run = gligen::test::run_trainer(tinySpec(out, 2).trainArguments());
    QVERIFY2(run.exit_code == 0, qPrintable(run.err));
    const QStringList ckpts = QDir(out + "/checkpoints").entryList({"checkpoint-*"}, QDir::Dirs, QDir::Name);
    QVERIFY2(!ckpts.isEmpty(), qPrintable(out + "/checkpoints has no checkpoint"));
    const QString ckpt = out + "/checkpoints/" + ckpts.first();
    QVERIFY(QFileInfo::exists(ckpt + "/manifest.json"));
    MainWindow w(gligen::test::quiet_window());
    QSignalSpy ready(&w, &MainWindow::modelReady);
    QSignalSpy failed(&w, &MainWindow::modelLoadFailed);
    Q_EMIT w.trainingDashboard()->generateWithCheckpoint(fixture("tiny-gligen"), ckpt);
    QVERIFY(waitFor([&] { return ready.count() + failed.count() > 0; }, 120000));
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
    QVERIFY(w.modelLoaded());
    // The model panel says which UNet is in use: the checkpoint and its run.
    const QString described = w.generationPanel()->modelDescription();
    QVERIFY2(described.contains(QFileInfo(ckpt).fileName()) && described.contains("for-studio"), qPrintable(described));
  }

  // "Resume from Here" on an older checkpoint says what it would overwrite and offers a branch in
  // a new folder; the branch leaves the original run's later checkpoints and final UNet untouched.
  void resumeFromAnOlderCheckpointBranches() {
    const QString out = dir_.filePath("branch-source");
    const gligen::test::TrainerRun prepared = gligen::test::run_trainer(tinySpec(out, 4).trainArguments());
    QVERIFY2(prepared.exit_code == 0, qPrintable(prepared.err));
    const QStringList ckpts = QDir(out + "/checkpoints").entryList({"checkpoint-*"}, QDir::Dirs, QDir::Name);
    QVERIFY2(ckpts.size() >= 2, qPrintable(ckpts.join(',')));
    const QString later = out + "/checkpoints/" + ckpts.last() + "/manifest.json";
    const QDateTime laterWritten = QFileInfo(later).lastModified();
    const QDateTime unetWritten = QFileInfo(out + "/unet/config.json").lastModified();
    QVERIFY(unetWritten.isValid());

    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    const int source = d.attach(out);
    QVERIFY(source >= 0);
    d.refreshNow();
    // Select the oldest checkpoint (the list is newest first, after the final UNet).
    QTreeWidget* list = d.checkpointList();
    QTreeWidgetItem* oldest = list->topLevelItem(list->topLevelItemCount() - 1);
    QVERIFY(oldest->text(2).endsWith(ckpts.first()));
    list->setCurrentItem(oldest);
    QString question;
    std::function<void(int)> answer = [&](int tries) {
      QTimer::singleShot(20, &d, [&, tries] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (box && box->objectName() == QLatin1String("resumeFromHereBox")) {
          question = box->text();
          screenshot(*box, "training-resume-from-here.png");
          for (QAbstractButton* b : box->buttons())
            if (b->text() == "Resume in a New Run Folder") b->click();
        } else if (tries > 0) {
          answer(tries - 1);
        }
      });
    };
    answer(250);
    for (QPushButton* b : d.findChildren<QPushButton*>())
      if (b->text() == "Resume from Here") b->click();
    QVERIFY2(question.contains("overwrites") && question.contains("final trained UNet"), qPrintable(question));
    QCOMPARE(d.runCount(), 2);
    const int branch = d.currentRun();
    QVERIFY(branch != source);
    QVERIFY2(d.runDirectory(branch).startsWith(out + "-from-step-"), qPrintable(d.runDirectory(branch)));
    QVERIFY(d.runner(branch)->arguments().contains("--resume-from-checkpoint"));
    QVERIFY(waitFor([&] { return !d.runner(branch)->isRunning(); }, 300000));
    d.refreshNow();
    QVERIFY2(d.runner(branch)->exitCode() == 0, qPrintable(d.runner(branch)->errorMessage()));
    QCOMPARE(d.follower(branch)->history().state(), RunHistory::State::Finished);
    // The source run is as it was.
    QCOMPARE(QFileInfo(later).lastModified(), laterWritten);
    QCOMPARE(QFileInfo(out + "/unet/config.json").lastModified(), unetWritten);
    QVERIFY(QFileInfo::exists(d.runDirectory(branch) + "/unet/config.json"));
  }

  void groundingMetricIsChartedBesideTheLoss() {
    // A run trained with --grounding-detector: its validation checks become a chart beside the loss.
    const QString run = dir_.filePath("grounded-run");
    QDir().mkpath(run);
    {
      QFile cfg(run + "/run.json");
      QVERIFY(cfg.open(QIODevice::WriteOnly));
      cfg.write(QJsonDocument(QJsonObject{{"pretrained_model", fixture("tiny-gligen")},
                                          {"data_path", fixture("dataset/train_data.json")},
                                          {"output_dir", run},
                                          {"max_train_steps", 6}})
                    .toJson());
    }
    QByteArray all;
    for (int s = 1; s <= 6; ++s) {
      all += progressLine(s, 0.5 - 0.05 * s, 6);
      if (s % 2 == 0) {
        all += QByteArray("{\"t\":1.7e9,\"kind\":\"metric\",\"step\":") + QByteArray::number(s) +
               ",\"name\":\"grounding_fraction_found\",\"value\":" + QByteArray::number(s / 8.0) +
               ",\"boxes_found\":" + QByteArray::number(s) + ",\"boxes\":8}\n";
      }
    }
    appendText(run + "/events.jsonl", all);
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    d.resize(1280, 820);
    d.show();
    const int i = d.attach(run);
    QVERIFY(i >= 0);
    const RunHistory& h = d.follower(i)->history();
    QVERIFY(h.hasGrounding());
    QCOMPARE(h.points().size(), 6);  // the metrics sit on their steps' points
    QCOMPARE(h.points()[3].groundingFound, 0.5f);
    QVERIFY(std::isnan(h.points()[2].groundingFound));
    QVERIFY(waitFor([&] { return d.chart(RunMetric::GroundingFound) != nullptr; }, 5000));
    QVERIFY(waitFor([&] { return d.chart(RunMetric::GroundingFound)->seriesPoints() == 3; }, 5000));
    QCOMPARE(d.chart(RunMetric::Loss)->seriesPoints(), 6);
    const QByteArray shots = qgetenv("GLIGEN_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(d.grab().save(QString::fromLocal8Bit(shots) + "/dashboard-grounding-metric.png"));
    QVERIFY(d.removeRun(i, /*deleteFolder=*/false, /*ask=*/false));
  }

  void shapesHitRateIsChartedBesideTheLoss() {
    // A run trained with --shapes-heldout (and a grounding detector): both validation checks get a
    // chart in the column beside the loss, each on its own steps.
    const QString run = dir_.filePath("shapes-run");
    QDir().mkpath(run);
    {
      QFile cfg(run + "/run.json");
      QVERIFY(cfg.open(QIODevice::WriteOnly));
      cfg.write(QJsonDocument(QJsonObject{{"pretrained_model", fixture("tiny-gligen")},
                                          {"data_path", fixture("dataset/train_data.json")},
                                          {"output_dir", run},
                                          {"trainable", "unet"},
                                          {"max_train_steps", 6}})
                    .toJson());
    }
    QByteArray all;
    for (int s = 1; s <= 6; ++s) {
      all += progressLine(s, 0.5 - 0.05 * s, 6);
      if (s % 3 == 0) {
        all += QByteArray("{\"t\":1.7e9,\"kind\":\"metric\",\"step\":") + QByteArray::number(s) +
               ",\"name\":\"shapes_hit_rate\",\"value\":" + QByteArray::number(s / 12.0) +
               ",\"boxes_found\":" + QByteArray::number(s) + ",\"shapes_boxes\":12}\n";
      }
    }
    appendText(run + "/events.jsonl", all);
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    d.resize(1280, 820);
    d.show();
    const int i = d.attach(run);
    QVERIFY(i >= 0);
    const RunHistory& h = d.follower(i)->history();
    QVERIFY(h.hasShapesHitRate());
    QVERIFY(!h.hasGrounding());
    QCOMPARE(h.points().size(), 6);
    QCOMPARE(h.points()[5].shapesHitRate, 0.5f);
    QVERIFY(std::isnan(h.points()[4].shapesHitRate));
    QVERIFY(std::isnan(h.points()[5].groundingFound));
    QVERIFY(h.logTail().join('\n').contains("held-out shapes hit 50.0% (6 of 12 boxes)"));
    QVERIFY(waitFor([&] { return d.chart(RunMetric::ShapesHitRate) != nullptr; }, 5000));
    QVERIFY(waitFor([&] { return d.chart(RunMetric::ShapesHitRate)->seriesPoints() == 2; }, 5000));
    QVERIFY(d.chart(RunMetric::GroundingFound) == nullptr);  // this run has no detector check
    QCOMPARE(d.chart(RunMetric::Loss)->seriesPoints(), 6);
    const QByteArray shots = qgetenv("GLIGEN_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(d.grab().save(QString::fromLocal8Bit(shots) + "/dashboard-shapes-metric.png"));
    QVERIFY(d.removeRun(i, /*deleteFolder=*/false, /*ask=*/false));
  }

  void attachPreparedRunAndRemember() {
    // A run folder written elsewhere: run.json, 120000 progress events, a checkpoint, an image.
    const QString run = dir_.filePath("cluster-run");
    QDir().mkpath(run + "/checkpoints/checkpoint-120000");
    QDir().mkpath(run + "/images");
    {
      QFile cfg(run + "/run.json");
      QVERIFY(cfg.open(QIODevice::WriteOnly));
      cfg.write(QJsonDocument(QJsonObject{{"pretrained_model", fixture("tiny-gligen")},
                                          {"data_path", fixture("dataset/train_data.json")},
                                          {"image_path", fixture("dataset")},
                                          {"output_dir", run},
                                          {"resolution", 32},
                                          {"learning_rate", 5e-5},
                                          {"max_train_steps", 200000},
                                          {"world_size", 8},
                                          {"reset_grounding_params", false}})
                    .toJson());
      QFile m(run + "/checkpoints/checkpoint-120000/manifest.json");
      QVERIFY(m.open(QIODevice::WriteOnly));
      m.write("{\"format\":\"gligen-training-checkpoint\",\"global_step\":120000}");
      QImage img(256, 64, QImage::Format_RGB888);
      img.fill(QColor(40, 120, 200));
      QVERIFY(img.save(run + "/images/generated-images-100000.png"));
      QFile ev(run + "/events.jsonl");
      QVERIFY(ev.open(QIODevice::WriteOnly));
      QByteArray all;
      for (int s = 1; s <= 120000; ++s) all += progressLine(s, 0.2 + 0.1 / std::sqrt(double(s)), 200000);
      all += "{\"t\":1.7e9,\"kind\":\"image\",\"step\":100000,\"path\":\"" +
             (run + "/images/generated-images-100000.png").toUtf8() + "\"}\n";
      all += "{\"t\":1.7e9,\"kind\":\"checkpoint\",\"step\":120000,\"path\":\"" +
             (run + "/checkpoints/checkpoint-120000").toUtf8() + "\"}\n";
      ev.write(all);
    }
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.pollIntervalMs = 100;
    {
      TrainingDashboard d(o);  // persists its run list
      const int i = d.attach(run);
      QCOMPARE(i, 0);
      QCOMPARE(d.follower(i)->history().points().size(), 120000);
      QCOMPARE(d.chart(RunMetric::Loss)->seriesPoints(), 120000);
      QVERIFY2(d.chart(RunMetric::Loss)->drawnPoints() < 2 * (4 * 2000 + 2),
               qPrintable(QString::number(d.chart(RunMetric::Loss)->drawnPoints())));
      QCOMPARE(d.imageStrip()->count(), 1);
      QCOMPARE(d.checkpointList()->topLevelItemCount(), 1);
      QVERIFY(d.statusLabel()->text().contains("step 120000 of 200000"));
      // Resume builds the job from run.json: 8 ranks, the checkpoint, the fine-tuning switch.
      const TrainingJobSpec spec =
          TrainingJobSpec::fromRunJson(d.follower(i)->config(), run + "/checkpoints/checkpoint-120000");
      QCOMPARE(spec.processes, 8);
      QCOMPARE(spec.value("learning-rate"), QStringLiteral("5e-05"));
      QVERIFY(spec.isOn("no-reset-grounding-params"));
      QCOMPARE(spec.value("max-train-steps"), QStringLiteral("200000"));
      QVERIFY(spec.arguments().contains(run + "/checkpoints/checkpoint-120000"));
      // The events keep coming (the cluster job is still running).
      appendText(run + "/events.jsonl", progressLine(120001, 0.2, 200000));
      QVERIFY(waitFor([&] { return d.follower(i)->history().step() == 120001; }, 5000));
    }
    TrainingDashboard again(o);  // a restart of the studio lists it again
    QCOMPARE(again.runCount(), 1);
    QCOMPARE(again.runDirectory(0), QDir::cleanPath(run));
    QVERIFY(again.removeRun(0, /*deleteFolder=*/false, /*ask=*/false));
    QCOMPARE(TrainingDashboard(o).runCount(), 0);
    QVERIFY(QFileInfo(run).isDir());  // "remove from list" keeps the folder
  }
};

GLIGEN_TEST_MAIN(TestTrainingDashboard)
#include "test_training_dashboard.moc"
