// TrainingJobSpec: one `gligen-trainer train` job as the dashboard's new-job form edits it: a
// value per trainer flag, plus how to launch it (processes, GPUs). It turns into the exact
// command line (shown to the user, copyable, runnable on a server) and into QProcess arguments.
//
// The flags are described once, in trainingFlags(): name (as `gligen-trainer train --help`
// spells it), group, kind, default and help. The form is built from that table, and a test
// checks the table against the trainer's own --help so the two cannot drift apart.
#pragma once
#include <QJsonObject>
#include <QMap>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QVector>

namespace gligen::ui {

struct TrainingFlag {
  enum class Kind {
    Folder,     // an existing folder
    File,       // an existing file (or folder, for --data-path's per-image .pth folders)
    OutFolder,  // a folder that will be created
    Integer,
    Real,
    Choice,
    Switch,  // present or not
    Text,
    Boxes,  // "phrase: x0,y0,x1,y1" per line -> --validation-phrase/--validation-box pairs
  };
  QString name;   // without the dashes: "learning-rate"
  QString group;  // "Data", "Model", "Optimisation", "Schedule", "Checkpoints", "Validation", "Hardware"
  Kind kind;
  QString label;
  QString fallback;  // what the trainer uses when the flag is absent ("" = nothing / required)
  QString help;
  QStringList choices;
  double min = 0, max = 0;  // Integer / Real: inclusive range
  bool required = false;
  bool optional = false;  // Integer: empty means "not given" (e.g. --max-train-steps)
};

const QVector<TrainingFlag>& trainingFlags();
const TrainingFlag* findTrainingFlag(const QString& name);
QStringList trainingFlagGroups();

struct TrainingJobPreset;

struct TrainingJobSpec {
  QMap<QString, QString> values;  // flag name -> text as typed; "" or absent = the trainer's default
  int processes = 1;              // > 1: `gligen-trainer launch --nproc-per-node N -- train ...`
  QStringList gpus;               // CUDA device indices to use (CUDA_VISIBLE_DEVICES); empty = all
  int masterPort = 29500;

  QString value(const QString& flag) const { return values.value(flag); }
  void set(const QString& flag, const QString& v) { values[flag] = v; }
  bool isOn(const QString& flag) const;  // a Switch

  // Every problem, one line each, naming the field; empty when the job can be launched.
  QStringList problems() const;
  // The trainer's arguments: {"train", "--flag", "value", ...} (or "launch ... -- train ...").
  QStringList arguments() const;
  QStringList trainArguments() const;
  // Variables to add to the environment of the process (CUDA_VISIBLE_DEVICES).
  QMap<QString, QString> environment() const;
  // One shell line, quoted for sh: what the user can paste into a terminal on a server.
  QString commandLine(const QString& program) const;

  QString outputDir() const { return value(QStringLiteral("output-dir")); }

  // The job that resumes the run whose resolved configuration is `runJson` (run.json) from
  // `checkpoint` ("latest" or a folder).
  static TrainingJobSpec fromRunJson(const QJsonObject& runJson, const QString& checkpoint = QStringLiteral("latest"));

  // The seed's COCO recipe (8 GPUs, fp16) and a quick CPU smoke run on a tiny model.
  static QVector<TrainingJobPreset> presets(const QString& tinyModelFolder = QString());
};

struct TrainingJobPreset {
  QString name, description;
  TrainingJobSpec spec;
};

QString shellQuote(const QString& s);

}  // namespace gligen::ui
