// Dataset jobs in the training dashboard: the make-dataset job spec (the exact command line for
// one rank and for N, its flags checked against the trainer's --help, missing and wrong model
// folders refused with a message that names them), the New Job dialog's dataset page, the monitor
// on a synthetic make-dataset run folder (charts, the latest-images strip with boxes and
// captions, the run list's mark), Open in Review through the studio's review window, and (slow)
// a real make-dataset run on the fixture models launched from the dashboard.
// Screenshots go to $GLIGEN_SCREENSHOT_DIR (default: the test's working folder).
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QProcess>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include "core/annotations/dataset_io.h"
#include "support/fixtures.h"
#include "support/free_port.h"
#include "support/studio_window.h"
#include "support/test_main.h"
#include "ui/dashboard/dataset_image_strip.h"
#include "ui/dashboard/dataset_job_form.h"
#include "ui/dashboard/metric_chart.h"
#include "ui/dashboard/new_training_dialog.h"
#include "ui/dashboard/run_monitor_panel.h"
#include "ui/dashboard/training_dashboard.h"
#include "ui/jobs/dataset_job_spec.h"
#include "ui/jobs/run_follower.h"
#include "ui/jobs/training_job_runner.h"
#include "ui/review/review_panel.h"
#include "ui/studio/main_window.h"

using namespace gligen::ui;

namespace {

QString trainer() { return QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")); }
QString fixture(const char* rel) { return QString::fromStdString(gligen::test::fixture(rel)); }

void screenshot(QWidget& w, const QString& name) {
  QString dir = QString::fromLocal8Bit(qgetenv("GLIGEN_SCREENSHOT_DIR"));
  if (dir.isEmpty()) dir = QDir::currentPath();
  QDir().mkpath(dir);
  const QString path = QDir(dir).filePath(name);
  QVERIFY2(w.grab().save(path), qPrintable(path));
  qInfo("screenshot: %s", qPrintable(path));
}

// The fixture models, a fixed detector text (this build has no RAM tagger yet).
DatasetJobSpec fixtureSpec(const QString& images, const QString& db) {
  DatasetJobSpec s;
  s.images = images;
  s.db = db;
  s.useText = true;
  s.text = QStringLiteral("a cat. a dog");
  s.detector = fixture("datagen/grounding-dino/model");
  s.captioner = fixture("datagen/blip2/model");
  s.textEncoder = fixture("tiny-gligen");
  return s;
}

void writeJson(const QString& path, const QJsonObject& o) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(QJsonDocument(o).toJson());
}

// A make-dataset run folder as the trainer writes it: run.json and events.jsonl for `images`
// (paths relative to `imagesDir`), the i-th with i % 3 + 1 boxes; `unreadable` one is skipped.
struct SyntheticJob {
  QString runDir, imagesDir, db;
  QStringList images;
};

QByteArray imageEvent(int i, const QString& rel, bool ok) {
  QJsonObject e{{"t", 1.7e9 + i}, {"kind", "datagen_image"}, {"image", rel}, {"ok", ok}};
  if (!ok) {
    e["error"] = "cannot decode the image (truncated PNG)";
  } else {
    const int boxes = i % 3 + 1;
    e["detections"] = boxes + 2;
    e["boxes"] = boxes;
    e["seconds"] = QJsonObject{{"tag", 0.0}, {"detect", 1.0 + 0.1 * i}, {"caption", 2.0 + 0.2 * i}, {"embed", 0.05}};
    QJsonArray annotations;
    for (int b = 0; b < boxes; ++b) {
      const double x = 10 + 40 * b;
      annotations.append(QJsonObject{{"box", QJsonArray{x, 12.0, x + 60.0, 90.0}},
                                     {"score", 0.9 - 0.1 * b},
                                     {"label", b % 2 ? "a dog" : "a cat"},
                                     {"caption", QStringLiteral("caption %1 of image %2").arg(b + 1).arg(i + 1)}});
    }
    e["annotations"] = annotations;
    e["tags"] = "a cat. a dog";
  }
  return QJsonDocument(e).toJson(QJsonDocument::Compact) + "\n";
}

QByteArray progressEvent(int done, int total) {
  return QJsonDocument(QJsonObject{{"t", 1.7e9 + done},
                                   {"kind", "progress"},
                                   {"images_done", done},
                                   {"images_total", total},
                                   {"images_per_s", 0.3 + 0.01 * done},
                                   {"world_size", 1}})
             .toJson(QJsonDocument::Compact) +
         "\n";
}

SyntheticJob makeSyntheticJob(const QString& root, int count, int total, int unreadable) {
  SyntheticJob job;
  job.imagesDir = root + "/pictures";
  job.db = root + "/made.sqlite";
  job.runDir = DatasetJobSpec::defaultRunDirectory(job.db);
  QDir().mkpath(job.imagesDir + "/street");
  QDir().mkpath(job.runDir);
  writeJson(job.runDir + "/run.json", QJsonObject{{"command", "make-dataset"},
                                                  {"images", job.imagesDir},
                                                  {"db", job.db},
                                                  {"ram", ""},
                                                  {"ram_tags", ""},
                                                  {"text", "a cat. a dog"},
                                                  {"detector", fixture("datagen/grounding-dino/model")},
                                                  {"captioner", fixture("datagen/blip2/model")},
                                                  {"text_encoder", fixture("tiny-gligen")},
                                                  {"box_threshold", 0.25},
                                                  {"text_threshold", 0.2},
                                                  {"nms_iou", 0.5},
                                                  {"device", "cpu"},
                                                  {"precision", "fp32"},
                                                  {"batch", 0},
                                                  {"world_size", 1},
                                                  {"launcher", "none"}});
  QByteArray events = QJsonDocument(QJsonObject{{"t", 1.7e9}, {"kind", "log"}, {"message", "models loaded in 3.1 s"}})
                          .toJson(QJsonDocument::Compact) +
                      "\n";
  for (int i = 0; i < count; ++i) {
    const QString rel = QStringLiteral("street/img-%1.png").arg(i, 2, 10, QLatin1Char('0'));
    QImage img(320, 200, QImage::Format_RGB888);
    img.fill(QColor::fromHsv((i * 40) % 360, 90, 200));
    QPainter p(&img);
    p.setBrush(QColor(60, 60, 60));
    p.drawEllipse(QPoint(80 + 20 * i % 200, 100), 40, 30);
    p.end();
    img.save(job.imagesDir + "/" + rel);
    job.images << rel;
    events += imageEvent(i, rel, i != unreadable);
    events += progressEvent(i + 1, total);
  }
  QFile f(job.runDir + "/events.jsonl");
  if (f.open(QIODevice::WriteOnly)) f.write(events);
  return job;
}

void appendText(const QString& path, const QByteArray& text) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::Append));
  f.write(text);
}

}  // namespace

class TestDatasetJobs : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    QCoreApplication::setOrganizationName(QStringLiteral("gligen-studio-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_dataset_jobs"));
    QSettings().clear();
    QVERIFY2(QFileInfo(trainer()).isExecutable(), "GLIGEN_TRAINER must name the built gligen-trainer");
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture("datagen/grounding-dino/model/config.json"));
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture("datagen/blip2/model/config.json"));
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture("tiny-gligen/text_encoder/config.json"));
  }

  void specBuildsTheExactCommandLine() {
    const QString images = dir_.filePath("my pictures");
    QDir().mkpath(images);
    const QString db = dir_.filePath("made.sqlite");
    DatasetJobSpec s = fixtureSpec(images, db);
    QVERIFY2(s.problems().isEmpty(), qPrintable(s.problems().join("\n")));
    const QStringList one{"make-dataset",
                          "--images",
                          images,
                          "--db",
                          db,
                          "--text",
                          "a cat. a dog",
                          "--detector",
                          fixture("datagen/grounding-dino/model"),
                          "--captioner",
                          fixture("datagen/blip2/model"),
                          "--text-encoder",
                          fixture("tiny-gligen"),
                          "--box-threshold",
                          "0.25",
                          "--text-threshold",
                          "0.2",
                          "--nms-iou",
                          "0.5",
                          "--device",
                          "cpu",
                          "--precision",
                          "fp32",
                          "--events"};
    QCOMPARE(s.arguments(), one);
    QCOMPARE(QFileInfo(s.runDirectory()).absoluteFilePath(), dir_.filePath("made-make-dataset"));

    // RAM instead of the fixed text, a caption batch, a run folder of its own, three ranks.
    s.useText = false;
    s.ram = fixture("datagen/ram/model/ram_swin_large_14m.pth");
    s.batch = 8;
    s.outputDir = dir_.filePath("runs/made");
    s.boxThreshold = 0.3;
    s.processes = 3;
    s.masterPort = 29611;
    QVERIFY2(s.problems().isEmpty(), qPrintable(s.problems().join("\n")));
    QStringList inner = one;
    inner.replace(inner.indexOf("--text"), "--ram");
    inner.replace(inner.indexOf("a cat. a dog"), s.ram);
    inner.replace(inner.indexOf("0.25"), "0.3");
    inner.insert(inner.indexOf("--events"), "--batch");
    inner.insert(inner.indexOf("--events"), "8");
    inner.insert(inner.indexOf("--events"), "--output-dir");
    inner.insert(inner.indexOf("--events"), dir_.filePath("runs/made"));
    QCOMPARE(s.arguments(), QStringList({"launch", "--nproc-per-node", "3", "--master-port", "29611", "--"}) + inner);
    QCOMPARE(s.runDirectory(), dir_.filePath("runs/made"));

    // Quoted for a shell: the folder with a space and the text with a dot and a space survive.
    s.useText = true;
    s.processes = 1;
    const QString cmd = s.commandLine("/opt/gligen/bin/gligen-trainer");
    QVERIFY(cmd.startsWith("/opt/gligen/bin/gligen-trainer make-dataset --images '" + images + "'"));
    QProcess sh;
    sh.start("sh", {"-c", "for a in " + cmd.section(' ', 1) + "; do echo \"$a\"; done"});
    QVERIFY(sh.waitForFinished());
    QCOMPARE(QString::fromUtf8(sh.readAllStandardOutput()).trimmed().split('\n'), s.arguments());

    // run.json back into the job: the same command (a default run folder stays implicit).
    const DatasetJobSpec back = DatasetJobSpec::fromRunJson(QJsonObject{{"command", "make-dataset"},
                                                                        {"images", images},
                                                                        {"db", db},
                                                                        {"ram", ""},
                                                                        {"ram_tags", ""},
                                                                        {"text", "a cat. a dog"},
                                                                        {"detector", s.detector},
                                                                        {"captioner", s.captioner},
                                                                        {"text_encoder", s.textEncoder},
                                                                        {"box_threshold", 0.3},
                                                                        {"text_threshold", 0.2},
                                                                        {"nms_iou", 0.5},
                                                                        {"device", "cpu"},
                                                                        {"precision", "fp32"},
                                                                        {"batch", 8},
                                                                        {"world_size", 1}},
                                                            DatasetJobSpec::defaultRunDirectory(db));
    QCOMPARE(back.outputDir, QString());
    s.outputDir.clear();
    QCOMPARE(back.arguments(), s.arguments());
  }

  // Every flag the form writes is one that `gligen-trainer make-dataset --help` lists.
  void flagsMatchTheTrainersHelp() {
    QProcess p;
    p.start(trainer(), {"make-dataset", "--help"});
    QVERIFY(p.waitForFinished(30000));
    const QString help = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
    QRegularExpression re("^\\s+--([a-z0-9-]+)", QRegularExpression::MultilineOption);
    QStringList trainerFlags;
    for (auto it = re.globalMatch(help); it.hasNext();) trainerFlags << it.next().captured(1);
    QVERIFY2(trainerFlags.contains("images") && trainerFlags.contains("text-encoder"), qPrintable(help));
    DatasetJobSpec s = fixtureSpec("/i", "/d.sqlite");
    s.batch = 4;
    s.outputDir = "/o";
    QStringList all = s.makeDatasetArguments();
    s.useText = false;
    s.ram = "/r.pth";
    s.ramTags = "/tags";
    all += s.makeDatasetArguments();
    for (const QString& a : all)
      if (a.startsWith("--")) QVERIFY2(trainerFlags.contains(a.mid(2)), qPrintable("the trainer has no " + a));
  }

  void specRefusesMissingAndWrongPaths() {
    const QString all = DatasetJobSpec().problems().join("\n");
    for (const char* flag : {"--images", "--db", "--ram", "--detector", "--captioner", "--text-encoder"})
      QVERIFY2(all.contains(flag), qPrintable(QString("no problem names %1 in:\n%2").arg(flag, all)));

    const QString images = dir_.filePath("refuse-images");
    QDir().mkpath(images);
    DatasetJobSpec s = fixtureSpec(images, dir_.filePath("refuse.sqlite"));
    QVERIFY(s.problems().isEmpty());
    const auto problem = [&](const char* what) {
      const QString p = s.problems().join("\n");
      if (!p.contains(what)) qWarning("problems: %s", qPrintable(p));
      return p.contains(what);
    };
    s.images = dir_.filePath("no-such-folder");
    QVERIFY(problem("Images folder: the folder"));
    QVERIFY(problem("does not exist"));
    s.images = images;
    // The models swapped: the folder holds another model, and the message says which.
    s.detector = fixture("datagen/blip2/model");
    QVERIFY(problem("Grounding DINO: "));
    QVERIFY(problem("holds a blip-2 model, not Grounding DINO"));
    s.detector = fixture("datagen/grounding-dino/model");
    s.captioner = fixture("datagen/grounding-dino/model");
    QVERIFY(problem("holds a grounding-dino model, not BLIP-2"));
    s.captioner = fixture("datagen/blip2/model");
    s.textEncoder = fixture("datagen");
    QVERIFY(problem("CLIP text encoder: "));
    QVERIFY(problem("has no config.json"));
    // A folder whose config is there but whose weights are not.
    const QString half = dir_.filePath("half-download");
    QDir().mkpath(half);
    QVERIFY(QFile::copy(fixture("datagen/grounding-dino/model/config.json"), half + "/config.json"));
    QVERIFY(QFile::copy(fixture("datagen/grounding-dino/model/preprocessor_config.json"),
                        half + "/preprocessor_config.json"));
    QVERIFY(QFile::copy(fixture("datagen/grounding-dino/model/vocab.txt"), half + "/vocab.txt"));
    s.textEncoder = fixture("tiny-gligen");
    s.detector = half;
    QVERIFY(problem("has no weights"));
    s.detector = fixture("datagen/grounding-dino/model");
    // The database must be SQLite (or new), in a folder that exists.
    const QString notDb = dir_.filePath("notes.sqlite");
    appendText(notDb, "just some notes\n");
    s.db = notDb;
    QVERIFY(problem("is not an SQLite database"));
    s.db = dir_.filePath("missing/folder/x.sqlite");
    QVERIFY(problem("Dataset database: the folder"));
    s.db = dir_.filePath("refuse.sqlite");
    // RAM: a checkpoint or the folder holding one; the fixed text must not be empty.
    s.useText = false;
    s.ram = dir_.filePath("ram.pth");
    QVERIFY(problem("RAM checkpoint: "));
    s.ram = images;
    QVERIFY(problem("holds no RAM checkpoint"));
    s.ram = fixture("datagen/ram/model");
    QVERIFY2(s.problems().isEmpty(), qPrintable(s.problems().join("\n")));
    s.useText = true;
    s.text = "  ";
    QVERIFY(problem("Detector text (--text) is required"));
    s.text = "a cat";
    s.precision = "fp16";
    QVERIFY(problem("Precision fp16 needs the cuda device"));
    s.device = "cuda";
    s.nmsIou = 1.5;
    QVERIFY(problem("NMS IoU must be in [-1, 1]"));
    s.nmsIou = 0.5;
    QVERIFY(s.problems().isEmpty());
  }

  void newJobDialogOffersADatasetJob() {
    NewTrainingDialog d(trainer());
    QCOMPARE(d.jobKindChoice()->count(), 2);
    d.setJobKind(NewTrainingDialog::JobKind::Dataset);
    QVERIFY(!d.launchButton()->isEnabled());
    QVERIFY2(d.problemsLabel()->text().contains("Images folder (--images) is required"),
             qPrintable(d.problemsLabel()->text()));
    DatasetJobForm* form = d.datasetForm();
    const QString images = dir_.filePath("dialog-images");
    QDir().mkpath(images);
    const QString db = dir_.filePath("dialog.sqlite");
    // Typed in like a user: the fields drive the spec.
    qobject_cast<QLineEdit*>(form->field("images"))->setText(images);
    qobject_cast<QLineEdit*>(form->field("db"))->setText(db);
    form->textChoice()->setChecked(true);
    qobject_cast<QLineEdit*>(form->field("text"))->setText("a cat. a dog");
    qobject_cast<QLineEdit*>(form->field("detector"))->setText(fixture("datagen/blip2/model"));
    qobject_cast<QLineEdit*>(form->field("captioner"))->setText(fixture("datagen/blip2/model"));
    qobject_cast<QLineEdit*>(form->field("text-encoder"))->setText(fixture("tiny-gligen"));
    QVERIFY(!d.launchButton()->isEnabled());
    QVERIFY(form->modelCheck("detector").contains("not Grounding DINO"));
    QVERIFY(form->modelCheck("captioner").isEmpty());
    QVERIFY(d.problemsLabel()->text().contains("Grounding DINO: "));
    qobject_cast<QLineEdit*>(form->field("detector"))->setText(fixture("datagen/grounding-dino/model"));
    QVERIFY2(d.launchButton()->isEnabled(), qPrintable(d.problems().join("; ")));
    QVERIFY(form->modelCheck("detector").isEmpty());
    QCOMPARE(d.datasetSpec().arguments(), fixtureSpec(images, db).arguments());
    QCOMPARE(d.commandLine(), fixtureSpec(images, db).commandLine(trainer()));
    // The trainer's own check reads the configs and tokenizers as loading would.
    QSignalSpy checked(form, &DatasetJobForm::checkFinished);
    QVERIFY(form->runTrainerCheck());
    QTRY_COMPARE_WITH_TIMEOUT(checked.count(), 1, 60000);
    QVERIFY2(checked.at(0).at(0).toBool(), qPrintable(checked.at(0).at(1).toString()));
    QCOMPARE(form->checkText(), QStringLiteral("the models look loadable"));
    qobject_cast<QLineEdit*>(form->field("captioner"))->setText(fixture("tiny-gligen"));
    QVERIFY(form->runTrainerCheck());
    QTRY_COMPARE_WITH_TIMEOUT(checked.count(), 2, 60000);
    QVERIFY(!checked.at(1).at(0).toBool());
    QVERIFY2(form->checkText().startsWith("BLIP-2: "), qPrintable(form->checkText()));
    qobject_cast<QLineEdit*>(form->field("captioner"))->setText(fixture("datagen/blip2/model"));
    QVERIFY(form->checkText().isEmpty());  // a check of other paths is not shown
    qobject_cast<QSpinBox*>(form->field("ranks"))->setValue(2);
    QVERIFY(d.commandLine().contains("launch --nproc-per-node 2 --master-port 29500 -- make-dataset --images"));
    qobject_cast<QComboBox*>(form->field("precision"))->setCurrentText("bf16");
    QVERIFY(!d.launchButton()->isEnabled());
    QVERIFY(d.problemsLabel()->text().contains("Precision bf16 needs the cuda device"));
    qobject_cast<QComboBox*>(form->field("precision"))->setCurrentText("fp32");
    // Switching back shows the training job, whose problems are its own.
    d.setJobKind(NewTrainingDialog::JobKind::Training);
    QVERIFY(d.problems().join(" ").contains("--pretrained-model"));
    d.setJobKind(NewTrainingDialog::JobKind::Dataset);
    QVERIFY(d.launchButton()->isEnabled());
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    // Nothing cut off at the dialog's size: the form fits without scrolling.
    QVERIFY2(form->minimumSizeHint().height() <= form->height() + 2,
             qPrintable(QString("%1 > %2").arg(form->minimumSizeHint().height()).arg(form->height())));
    screenshot(d, "dataset-new-job.png");
    qobject_cast<QLineEdit*>(form->field("text-encoder"))->setText(fixture("datagen"));
    qobject_cast<QLineEdit*>(form->field("detector"))->setText(fixture("datagen/blip2/model"));
    QVERIFY(form->runTrainerCheck());
    QTRY_COMPARE_WITH_TIMEOUT(checked.count(), 3, 60000);
    QVERIFY(form->checkResult()->toolTip().contains("CLIP text encoder: "));
    screenshot(d, "dataset-new-job-check.png");
  }

  void monitorFollowsADatasetJob() {
    const QString root = dir_.filePath("synthetic");
    const SyntheticJob job = makeSyntheticJob(root, 7, 10, /*unreadable=*/4);
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    const int i = d.attach(job.runDir);
    QVERIFY(i >= 0);
    d.refreshNow();
    QVERIFY(d.isDatasetJob(i));
    QCOMPARE(d.datasetOf(i), QDir::cleanPath(job.db));
    const RunHistory& h = d.follower(i)->history();
    QVERIFY(h.isDataset());
    QCOMPARE(h.imagesReported(), qint64(7));
    QCOMPARE(h.imagesFailed(), qint64(1));
    QCOMPARE(h.step(), qint64(7));
    QCOMPARE(h.maxSteps(), qint64(10));
    QCOMPARE(h.points().size(), 7);
    QCOMPARE(h.points()[2].detectSeconds, 1.2f);
    QCOMPARE(h.points()[2].detections, 5.0f);
    QCOMPARE(h.points()[6].imagesPerSecond, 0.37f);
    // The dataset charts, not the training ones; a failed image has no stage times.
    QVERIFY(d.monitorPanel()->datasetMode());
    QTRY_COMPARE_WITH_TIMEOUT(d.chart(RunMetric::ImagesPerSecond)->seriesPoints(), 7, 5000);
    QCOMPARE(d.chart(RunMetric::Detections)->seriesPoints(), 6);
    for (RunMetric m :
         {RunMetric::TagSeconds, RunMetric::DetectSeconds, RunMetric::CaptionSeconds, RunMetric::EmbedSeconds})
      QCOMPARE(d.chart(m)->seriesPoints(), 6);
    QVERIFY(d.chart(RunMetric::ImagesPerSecond)->isVisibleTo(&d));
    QVERIFY(!d.chart(RunMetric::Loss)->isVisibleTo(&d));
    QVERIFY2(d.statusLabel()->text().contains("image 7 of 10"), qPrintable(d.statusLabel()->text()));
    QVERIFY(d.statusLabel()->text().contains("1 unreadable"));
    // The strip: one card per image, newest last, boxes and captions from the events.
    DatasetImageStrip* strip = d.datasetStrip();
    QTRY_COMPARE_WITH_TIMEOUT(strip->count(), 7, 5000);
    QVERIFY(strip->isVisibleTo(&d));
    QListWidgetItem* last = strip->item(6);
    QCOMPARE(last->text(), QStringLiteral("img-06.png"));
    QCOMPARE(last->data(DatasetImageStrip::kPathRole).toString(), job.imagesDir + "/street/img-06.png");
    QCOMPARE(last->data(DatasetImageStrip::kBoxesRole).toInt(), 1);
    QCOMPARE(last->data(DatasetImageStrip::kCaptionsRole).toStringList(), QStringList{"caption 1 of image 7"});
    QVERIFY(!last->icon().isNull());
    QListWidgetItem* three = strip->item(2);
    QCOMPARE(three->data(DatasetImageStrip::kBoxesRole).toInt(), 3);
    QVERIFY(three->toolTip().contains("2. a dog (0.80): caption 2 of image 3"));
    QVERIFY(strip->item(4)->toolTip().contains("skipped: cannot decode the image"));
    // The card shows the picture with its first box drawn in the first box colour.
    const QImage card =
        DatasetImageStrip::renderCard(d.follower(i)->history().recentImages()[2], job.imagesDir).toImage();
    QCOMPARE(card.size(), DatasetImageStrip::cardSize());
    const double scale = 170.0 / 200.0;  // 320x200 shown 170 high
    const int x0 = int((card.width() - 320 * scale) / 2 + 10 * scale), y = int(50 * scale);
    QCOMPARE(card.pixelColor(x0, y).rgb(), QColor(0xe6, 0x39, 0x46).rgb());

    // More images arrive: appended; the job finishes: finished, with its summary.
    appendText(job.runDir + "/events.jsonl", imageEvent(7, "street/img-07.png", true) + progressEvent(8, 10));
    QTRY_COMPARE_WITH_TIMEOUT(strip->count(), 8, 5000);
    appendText(job.runDir + "/events.jsonl", QJsonDocument(QJsonObject{{"t", 1.7e9 + 100},
                                                                       {"kind", "done"},
                                                                       {"images_in_folder", 10},
                                                                       {"shard_images", 10},
                                                                       {"already_done", 2},
                                                                       {"processed", 8},
                                                                       {"boxes", 15},
                                                                       {"detections", 31},
                                                                       {"unreadable", QJsonArray{"street/img-04.png"}},
                                                                       {"stopped", false},
                                                                       {"merged_images", 0},
                                                                       {"seconds", QJsonObject{}}})
                                                     .toJson(QJsonDocument::Compact) +
                                                 "\n");
    QTRY_COMPARE_WITH_TIMEOUT(d.follower(i)->history().state(), RunHistory::State::Finished, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(d.statusLabel()->text().contains("8 processed, 2 already done, 10 in the folder"), 5000);
    QVERIFY(d.statusLabel()->text().contains("dataset job: finished"));
    // make-dataset logs its summary after "done": still finished.
    appendText(job.runDir + "/events.jsonl", "{\"t\":1.7e9,\"kind\":\"log\",\"message\":\"8 images processed\"}\n");
    d.refreshNow();
    QCOMPARE(d.follower(i)->history().logTail().size(), 2);
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Finished);

    // The run list marks it as a dataset job; a training run next to it is not.
    QListWidget* runs = nullptr;
    for (QListWidget* l : d.findChildren<QListWidget*>())
      if (l != strip && l->count() == 1 && l->item(0)->text().startsWith(QFileInfo(job.runDir).fileName())) runs = l;
    QVERIFY(runs);
    QVERIFY2(runs->item(0)->text().contains("dataset job · finished · 8/10 images"), qPrintable(runs->item(0)->text()));

    // Open in Review: disabled while the database does not exist, then emits its path.
    QSignalSpy review(&d, &TrainingDashboard::openDatasetForReview);
    QSignalSpy messages(&d, &TrainingDashboard::message);
    QVERIFY(d.monitorPanel()->openInReviewButton()->isVisible());
    QVERIFY(!d.monitorPanel()->openInReviewButton()->isEnabled());
    d.openInReview(i);
    QCOMPARE(review.count(), 0);
    QVERIFY(messages.last().at(0).toString().contains("does not exist yet"));
    appendText(job.db, QByteArray("SQLite format 3\0", 16));
    d.refreshNow();
    QVERIFY(d.monitorPanel()->openInReviewButton()->isEnabled());
    d.monitorPanel()->openInReviewButton()->click();
    QCOMPARE(review.count(), 1);
    QCOMPARE(review.at(0).at(0).toString(), QDir::cleanPath(job.db));
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Finished);
    d.resize(1280, 820);
    QTest::qWait(50);
    screenshot(d, "dataset-dashboard-finished.png");
  }

  // A training run and a dataset job side by side: each keeps its own layout and actions.
  void trainingAndDatasetRunsSideBySide() {
    const SyntheticJob job = makeSyntheticJob(dir_.filePath("side"), 3, 3, -1);
    const QString train = dir_.filePath("side/train-run");
    QDir().mkpath(train);
    appendText(train + "/events.jsonl",
               "{\"t\":1.7e9,\"kind\":\"progress\",\"step\":1,\"max_steps\":10,\"loss\":0.5,\"lr\":0.001}\n"
               "{\"t\":1.7e9,\"kind\":\"progress\",\"step\":2,\"max_steps\":10,\"loss\":0.4,\"lr\":0.001}\n");
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    TrainingDashboard d(o);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    const int t = d.attach(train);
    const int s = d.attach(job.runDir);
    d.refreshNow();
    QVERIFY(!d.isDatasetJob(t));
    QVERIFY(d.isDatasetJob(s));
    d.selectRun(t);
    QVERIFY(!d.monitorPanel()->datasetMode());
    QVERIFY(!d.monitorPanel()->openInReviewButton()->isVisible());
    QVERIFY(d.chart(RunMetric::Loss)->isVisibleTo(&d));
    QTRY_COMPARE_WITH_TIMEOUT(d.chart(RunMetric::Loss)->seriesPoints(), 2, 5000);
    QVERIFY(!d.datasetStrip()->isVisibleTo(&d));
    // A dataset job is not offered for comparison with a training run.
    for (QComboBox* c : d.findChildren<QComboBox*>())
      if (c->itemText(0) == "(none)")
        for (int k = 0; k < c->count(); ++k) QVERIFY(c->itemText(k) != QFileInfo(job.runDir).fileName());
    d.selectRun(s);
    QVERIFY(d.monitorPanel()->datasetMode());
    QTRY_COMPARE_WITH_TIMEOUT(d.datasetStrip()->count(), 3, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(d.chart(RunMetric::ImagesPerSecond)->seriesPoints(), 3, 5000);
    // Copy Command: the make-dataset command that runs this job again, from its run.json.
    for (QPushButton* b : d.findChildren<QPushButton*>())
      if (b->text() == "Copy Command") b->click();
    const QString copied = QGuiApplication::clipboard()->text();
    QVERIFY2(copied.startsWith(trainer() + " make-dataset --images " + job.imagesDir + " --db " + job.db +
                               " --text 'a cat. a dog'"),
             qPrintable(copied));
    QVERIFY(!copied.contains("--output-dir"));  // the default run folder stays implicit
    // New Job from a dataset job: its settings on the dataset page, its dataset on the training page.
    const TrainingJobSpec next = d.newJobSpec();
    QCOMPARE(next.value("data-path"), QDir::cleanPath(job.db));
  }

  // Open in Review goes where File > Open Dataset for Review goes: the studio's review window.
  void openInReviewOpensTheReviewWindow() {
    const SyntheticJob job = makeSyntheticJob(dir_.filePath("review"), 2, 2, -1);
    {
      auto store = gligen::annotations::AnnotationStore::open_or_create(job.db.toStdString());
      gligen::annotations::ImportOptions io;
      io.image_root = gligen::test::fixture("dataset");
      gligen::annotations::import_dataset(*store, gligen::test::fixture("dataset/train_data.pth"), io);
    }
    MainWindow w(gligen::test::quiet_window());
    TrainingDashboard* d = w.trainingDashboard();
    const int i = d->attach(job.runDir);
    d->refreshNow();
    QVERIFY(w.findChild<ReviewPanel*>() == nullptr);
    d->openInReview(i);
    auto* review = w.findChild<ReviewPanel*>();
    QVERIFY(review);
    QTRY_VERIFY_WITH_TIMEOUT(review->isVisible(), 5000);
    QVERIFY(review->store() != nullptr);
    QVERIFY2(review->windowTitle().contains("made.sqlite"), qPrintable(review->windowTitle()));
    QVERIFY(!review->listedImages().empty());
    QVERIFY(d->removeRun(i, false, false));
  }

  // The real make-dataset on the fixture models, launched and followed by the dashboard.
  void makeDatasetFromTheDashboard() {
    GLIGEN_SLOW_TEST();
    const QString images = dir_.filePath("e2e-images");
    QDir().mkpath(images);
    for (const char* name : {"c0_landscape_320x200_RGB.png", "portrait_trailing_dot.png"})
      QVERIFY(QFile::copy(fixture("datagen/pipeline/images/") + name, images + "/" + name));
    const QString db = dir_.filePath("e2e.sqlite");
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    const int i = d.launchDataset(fixtureSpec(images, db));
    QVERIFY(i >= 0);
    QVERIFY(d.isDatasetJob(i));
    QCOMPARE(d.runDirectory(i), QDir::cleanPath(dir_.filePath("e2e-make-dataset")));
    QTRY_VERIFY_WITH_TIMEOUT(!d.runner(i)->isRunning(), 600000);
    d.refreshNow();
    QVERIFY2(d.runner(i)->exitCode() == 0,
             qPrintable(d.runner(i)->errorMessage() + "\n" + d.runner(i)->recentErrorLines().join("\n")));
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Finished);
    QCOMPARE(d.follower(i)->history().imagesReported(), qint64(2));
    QTRY_COMPARE_WITH_TIMEOUT(d.datasetStrip()->count(), 2, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(d.chart(RunMetric::DetectSeconds)->seriesPoints(), 2, 5000);
    QVERIFY(QFileInfo(db).isFile());
    QSignalSpy review(&d, &TrainingDashboard::openDatasetForReview);
    QTRY_VERIFY_WITH_TIMEOUT(d.monitorPanel()->openInReviewButton()->isEnabled(), 5000);
    d.monitorPanel()->openInReviewButton()->click();
    QCOMPARE(review.count(), 1);
    QCOMPARE(review.at(0).at(0).toString(), QDir::cleanPath(db));
    d.resize(1280, 820);
    QTest::qWait(100);
    screenshot(d, "dataset-dashboard-real-run.png");
    // Run again: nothing left to do, the same dataset.
    QCOMPARE(d.resumeRun(i), i);
    QTRY_VERIFY_WITH_TIMEOUT(!d.runner(i)->isRunning(), 600000);
    d.refreshNow();
    QCOMPARE(d.runner(i)->exitCode(), 0);
    QCOMPARE(d.follower(i)->history().doneSummary().value("already_done").toInt(), 2);
  }

  // Stop finishes the current image (make-dataset exits 130 then): shown as stopped, not failed;
  // Resume runs the same command and does the rest.
  void stopAndResumeADatasetJob() {
    GLIGEN_SLOW_TEST();
    const QString images = dir_.filePath("stop-images");
    QDir().mkpath(images);
    for (const QString& name : QDir(fixture("datagen/pipeline/images")).entryList(QDir::Files))
      QVERIFY(QFile::copy(fixture("datagen/pipeline/images/") + name, images + "/" + name));
    const int count = QDir(images).entryList(QDir::Files).size();
    QVERIFY(count >= 4);
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    const int i = d.launchDataset(fixtureSpec(images, dir_.filePath("stop.sqlite")));
    QVERIFY(i >= 0);
    QTRY_VERIFY_WITH_TIMEOUT(d.follower(i)->history().imagesReported() >= 1, 300000);
    d.stopRun(i);
    QTRY_VERIFY_WITH_TIMEOUT(!d.runner(i)->isRunning(), 300000);
    d.refreshNow();
    const qint64 first = d.follower(i)->history().imagesReported();
    QVERIFY2(first < count, "the job finished before the stop arrived");
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Stopped);
    QVERIFY2(!d.statusLabel()->text().contains("Error"), qPrintable(d.statusLabel()->text()));
    QVERIFY2(d.statusLabel()->text().contains("stopped after the current image"), qPrintable(d.statusLabel()->text()));
    QCOMPARE(d.resumeRun(i), i);
    QTRY_VERIFY_WITH_TIMEOUT(!d.runner(i)->isRunning(), 600000);
    d.refreshNow();
    QCOMPARE(d.runner(i)->exitCode(), 0);
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Finished);
    const QJsonObject done = d.follower(i)->history().doneSummary();
    QCOMPARE(done.value("already_done").toInt() + done.value("processed").toInt(), count);
  }

  // Two ranks through `gligen-trainer launch`: the dashboard follows rank 0's events to the end.
  void twoRanksFromTheDashboard() {
    GLIGEN_SLOW_TEST();
    const QString images = dir_.filePath("ranks-images");
    QDir().mkpath(images);
    for (const char* name :
         {"c0_landscape_320x200_RGB.png", "portrait_trailing_dot.png", "c_thin_wide.png", "c4_gray_small_97x61_L.png"})
      QVERIFY(QFile::copy(fixture("datagen/pipeline/images/") + name, images + "/" + name));
    DatasetJobSpec spec = fixtureSpec(images, dir_.filePath("ranks.sqlite"));
    spec.processes = 2;
    spec.masterPort = gligen::test::free_tcp_port();
    TrainingDashboard::Options o;
    o.trainerProgram = trainer();
    o.persistRuns = false;
    o.pollIntervalMs = 100;
    TrainingDashboard d(o);
    const int i = d.launchDataset(spec);
    QVERIFY(i >= 0);
    QCOMPARE(d.runner(i)->arguments().mid(0, 2), (QStringList{"launch", "--nproc-per-node"}));
    QTRY_VERIFY_WITH_TIMEOUT(!d.runner(i)->isRunning(), 600000);
    d.refreshNow();
    QVERIFY2(d.runner(i)->exitCode() == 0, qPrintable(d.runner(i)->recentErrorLines().join("\n")));
    QCOMPARE(d.follower(i)->history().state(), RunHistory::State::Finished);
    QCOMPARE(d.follower(i)->config().value("world_size").toInt(), 2);
    // Rank 0 reports its share; the merge brings every image into the dataset.
    QVERIFY(d.follower(i)->history().imagesReported() >= 1);
    QCOMPARE(d.follower(i)->history().doneSummary().value("images_in_folder").toInt(), 4);
    QVERIFY(d.isDatasetJob(i));
    QVERIFY(d.monitorPanel()->openInReviewButton()->isEnabled());
  }
};

GLIGEN_TEST_MAIN(TestDatasetJobs)
#include "test_dataset_jobs.moc"
