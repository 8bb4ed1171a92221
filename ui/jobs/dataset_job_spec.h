// DatasetJobSpec: one `gligen-trainer make-dataset` job as the dashboard's new-job form edits it:
// the images folder, the dataset database, the models (RAM or a fixed detector text, Grounding
// DINO, BLIP-2, the CLIP text encoder), the thresholds and how to run it (ranks, device,
// precision). Like TrainingJobSpec it turns into the exact command line and QProcess arguments,
// and lists what blocks launching in plain words.
//
// The model checks are cheap: they look at the files a folder holds (config.json, weights,
// tokenizer files), never load a model, so the form can run them on every keystroke.
#pragma once
#include <QJsonObject>
#include <QMap>
#include <QString>
#include <QStringList>

namespace gligen::ui {

struct DatasetJobSpec {
  QString images;        // --images DIR
  QString db;            // --db FILE (.sqlite; created when missing)
  bool useText = false;  // true: --text instead of --ram
  QString ram;           // --ram FILE|DIR
  QString ramTags;       // --ram-tags DIR (optional)
  QString text;          // --text "cat. dog"
  QString detector;      // --detector DIR
  QString captioner;     // --captioner DIR
  QString textEncoder;   // --text-encoder DIR
  double boxThreshold = 0.25;
  double textThreshold = 0.2;
  double nmsIou = 0.5;
  QString device = QStringLiteral("cpu");      // cpu | cuda
  QString precision = QStringLiteral("fp32");  // fp32 | fp16 | bf16
  int batch = 0;                               // crops per captioner pass, 0: all boxes of an image
  QString outputDir;                           // "" = <db stem>-make-dataset next to the db
  int processes = 1;                           // > 1: `gligen-trainer launch --nproc-per-node N -- make-dataset ...`
  int masterPort = 29500;

  // Every problem, one line each, naming the field and what to do; empty when the job can run.
  QStringList problems() const;
  // The model checks alone (a subset of problems()): "" when `path` looks loadable as that model.
  static QString ramProblem(const QString& path);
  static QString detectorProblem(const QString& path);
  static QString captionerProblem(const QString& path);
  static QString textEncoderProblem(const QString& path);

  // {"make-dataset", "--images", ..., "--events"}, and with processes > 1 the launch wrapper.
  QStringList makeDatasetArguments() const;
  QStringList arguments() const;
  QMap<QString, QString> environment() const { return {}; }
  QString commandLine(const QString& program) const;

  // The run folder the job writes: --output-dir, else `<db stem>-make-dataset` beside the db.
  QString runDirectory() const;
  static QString defaultRunDirectory(const QString& db);

  // The job that runs `runJson` (a make-dataset run.json) again: it continues where it stopped.
  static DatasetJobSpec fromRunJson(const QJsonObject& runJson, const QString& runDirectory);
  static bool isDatasetRun(const QJsonObject& runJson);
};

}  // namespace gligen::ui
