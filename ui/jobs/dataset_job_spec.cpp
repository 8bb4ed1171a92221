#include "ui/jobs/dataset_job_spec.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <cmath>

#include "ui/jobs/training_job_spec.h"  // shellQuote

namespace gligen::ui {

namespace {

bool hasWeights(const QDir& dir) {
  return !dir.entryList({QStringLiteral("*.safetensors"), QStringLiteral("*.bin"),
                         QStringLiteral("*.safetensors.index.json"), QStringLiteral("*.bin.index.json")},
                        QDir::Files)
              .isEmpty();
}

// config.json's model_type; "" with `problem` set when it is missing or unreadable.
QString modelType(const QDir& dir, QString& problem) {
  QFile f(dir.filePath(QStringLiteral("config.json")));
  if (!f.exists()) {
    problem = QStringLiteral("has no config.json");
    return {};
  }
  if (!f.open(QIODevice::ReadOnly)) {
    problem = QStringLiteral("config.json cannot be read (permissions?)");
    return {};
  }
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject()) {
    problem = QStringLiteral("config.json is not valid JSON (%1)").arg(err.errorString());
    return {};
  }
  return doc.object().value(QStringLiteral("model_type")).toString();
}

QStringList missing(const QDir& dir, const QStringList& files) {
  QStringList out;
  for (const QString& f : files)
    if (!QFileInfo::exists(dir.filePath(f))) out << f;
  return out;
}

QString numberText(double v) { return QString::number(v, 'g', 6); }

QString jsonPath(const QJsonObject& o, const char* key) {
  const QJsonValue v = o.value(QLatin1String(key));
  return v.isString() ? v.toString() : QString();
}

}  // namespace

QString DatasetJobSpec::ramProblem(const QString& path) {
  const QFileInfo info(path);
  if (!info.exists())
    return QStringLiteral(
               "\"%1\" does not exist: give RAM's checkpoint (ram_swin_large_14m.pth) or the folder holding it")
        .arg(path);
  if (info.isFile()) {
    if (!info.fileName().endsWith(QLatin1String(".pth")) && !info.fileName().endsWith(QLatin1String(".pt")))
      return QStringLiteral("\"%1\" is not a RAM checkpoint (.pth)").arg(info.fileName());
    if (info.size() < 1024)
      return QStringLiteral("\"%1\" is %2 bytes: a truncated or placeholder download?").arg(path).arg(info.size());
    return {};
  }
  if (QDir(path).entryList({QStringLiteral("*.pth")}, QDir::Files).isEmpty())
    return QStringLiteral("the folder \"%1\" holds no RAM checkpoint (*.pth); download ram_swin_large_14m.pth into it")
        .arg(path);
  return {};
}

QString DatasetJobSpec::detectorProblem(const QString& path) {
  const QDir dir(path);
  if (!QFileInfo(path).isDir()) return QStringLiteral("the folder \"%1\" does not exist").arg(path);
  QString problem;
  const QString type = modelType(dir, problem);
  if (!problem.isEmpty())
    return QStringLiteral("\"%1\" %2: give a Grounding DINO folder (IDEA-Research/grounding-dino-base)")
        .arg(path, problem);
  if (type != QLatin1String("grounding-dino"))
    return QStringLiteral("\"%1\" holds a %2 model, not Grounding DINO (model_type \"grounding-dino\")")
        .arg(path, type.isEmpty() ? QStringLiteral("unknown") : type);
  const QStringList lack = missing(dir, {QStringLiteral("preprocessor_config.json"), QStringLiteral("vocab.txt")});
  if (!lack.isEmpty())
    return QStringLiteral("\"%1\" lacks %2: download the whole model folder")
        .arg(path, lack.join(QStringLiteral(", ")));
  if (!hasWeights(dir)) return QStringLiteral("\"%1\" has no weights (*.safetensors or *.bin)").arg(path);
  return {};
}

QString DatasetJobSpec::captionerProblem(const QString& path) {
  const QDir dir(path);
  if (!QFileInfo(path).isDir()) return QStringLiteral("the folder \"%1\" does not exist").arg(path);
  QString problem;
  const QString type = modelType(dir, problem);
  if (!problem.isEmpty())
    return QStringLiteral("\"%1\" %2: give a BLIP-2 folder (Salesforce/blip2-flan-t5-xxl)").arg(path, problem);
  if (type != QLatin1String("blip-2"))
    return QStringLiteral("\"%1\" holds a %2 model, not BLIP-2 (model_type \"blip-2\")")
        .arg(path, type.isEmpty() ? QStringLiteral("unknown") : type);
  const QStringList lack = missing(dir, {QStringLiteral("preprocessor_config.json")});
  if (!lack.isEmpty())
    return QStringLiteral("\"%1\" lacks %2: download the whole model folder")
        .arg(path, lack.join(QStringLiteral(", ")));
  if (!QFileInfo::exists(dir.filePath(QStringLiteral("spiece.model"))) &&
      !QFileInfo::exists(dir.filePath(QStringLiteral("tokenizer.json"))))
    return QStringLiteral("\"%1\" has no tokenizer (spiece.model)").arg(path);
  if (!hasWeights(dir)) return QStringLiteral("\"%1\" has no weights (*.safetensors or *.bin)").arg(path);
  return {};
}

QString DatasetJobSpec::textEncoderProblem(const QString& path) {
  if (!QFileInfo(path).isDir()) return QStringLiteral("the folder \"%1\" does not exist").arg(path);
  const QDir root(path);
  // A diffusers pipeline folder: text_encoder/ and tokenizer/.
  const bool pipeline = QFileInfo(root.filePath(QStringLiteral("text_encoder"))).isDir();
  const QDir model = pipeline ? QDir(root.filePath(QStringLiteral("text_encoder"))) : root;
  const QDir tokenizer = pipeline ? QDir(root.filePath(QStringLiteral("tokenizer"))) : root;
  QString problem;
  const QString type = modelType(model, problem);
  if (!problem.isEmpty())
    return QStringLiteral(
               "\"%1\" %2: give a CLIP folder as released (openai/clip-vit-large-patch14) or a diffusers pipeline "
               "folder")
        .arg(model.path(), problem);
  if (type != QLatin1String("clip") && type != QLatin1String("clip_text_model"))
    return QStringLiteral("\"%1\" holds a %2 model, not CLIP")
        .arg(model.path(), type.isEmpty() ? QStringLiteral("unknown") : type);
  if (!hasWeights(model)) return QStringLiteral("\"%1\" has no weights (*.safetensors or *.bin)").arg(model.path());
  const QStringList lack = missing(tokenizer, {QStringLiteral("vocab.json"), QStringLiteral("merges.txt")});
  if (!lack.isEmpty())
    return QStringLiteral("\"%1\" lacks the tokenizer files %2").arg(tokenizer.path(), lack.join(QStringLiteral(", ")));
  return {};
}

QStringList DatasetJobSpec::problems() const {
  QStringList out;
  const auto required = [&](const QString& v, const QString& label, const QString& flag) {
    if (v.trimmed().isEmpty()) {
      out << QStringLiteral("%1 (--%2) is required").arg(label, flag);
      return false;
    }
    return true;
  };
  if (required(images, QStringLiteral("Images folder"), QStringLiteral("images")) &&
      !QFileInfo(images.trimmed()).isDir())
    out << QStringLiteral("Images folder: the folder \"%1\" does not exist").arg(images.trimmed());
  if (required(db, QStringLiteral("Dataset database"), QStringLiteral("db"))) {
    const QFileInfo info(db.trimmed());
    if (info.exists() && info.isDir()) {
      out << QStringLiteral("Dataset database: \"%1\" is a folder; name a .sqlite file (created when missing)")
                 .arg(db.trimmed());
    } else if (info.exists()) {
      QFile f(info.filePath());
      const QByteArray head = f.open(QIODevice::ReadOnly) ? f.read(16) : QByteArray();
      if (info.size() > 0 && head != QByteArray("SQLite format 3\0", 16))
        out << QStringLiteral(
                   "Dataset database: \"%1\" is not an SQLite database; name a new .sqlite file or an "
                   "annotation dataset to add to")
                   .arg(db.trimmed());
    } else if (!info.absoluteDir().exists()) {
      out << QStringLiteral("Dataset database: the folder \"%1\" does not exist").arg(info.absolutePath());
    }
  }
  if (useText) {
    if (text.trimmed().isEmpty())
      out << QStringLiteral("Detector text (--text) is required when RAM is not used, e.g. \"cat. dog\"");
  } else if (required(ram, QStringLiteral("RAM checkpoint"), QStringLiteral("ram"))) {
    const QString p = ramProblem(ram.trimmed());
    if (!p.isEmpty()) out << QStringLiteral("RAM checkpoint: ") + p;
    if (!ramTags.trimmed().isEmpty() && !QFileInfo(ramTags.trimmed()).isDir())
      out << QStringLiteral("RAM tag lists: the folder \"%1\" does not exist").arg(ramTags.trimmed());
  }
  if (required(detector, QStringLiteral("Grounding DINO"), QStringLiteral("detector"))) {
    const QString p = detectorProblem(detector.trimmed());
    if (!p.isEmpty()) out << QStringLiteral("Grounding DINO: ") + p;
  }
  if (required(captioner, QStringLiteral("BLIP-2"), QStringLiteral("captioner"))) {
    const QString p = captionerProblem(captioner.trimmed());
    if (!p.isEmpty()) out << QStringLiteral("BLIP-2: ") + p;
  }
  if (required(textEncoder, QStringLiteral("CLIP text encoder"), QStringLiteral("text-encoder"))) {
    const QString p = textEncoderProblem(textEncoder.trimmed());
    if (!p.isEmpty()) out << QStringLiteral("CLIP text encoder: ") + p;
  }
  if (!(boxThreshold >= 0 && boxThreshold <= 1)) out << QStringLiteral("Box threshold must be in [0, 1]");
  if (!(textThreshold >= 0 && textThreshold <= 1)) out << QStringLiteral("Text threshold must be in [0, 1]");
  if (!(nmsIou >= -1 && nmsIou <= 1)) out << QStringLiteral("NMS IoU must be in [-1, 1]");
  if (device != QLatin1String("cpu") && device != QLatin1String("cuda"))
    out << QStringLiteral("Device must be cpu or cuda");
  if (precision != QLatin1String("fp32") && precision != QLatin1String("fp16") && precision != QLatin1String("bf16"))
    out << QStringLiteral("Precision must be fp32, fp16 or bf16");
  else if (precision != QLatin1String("fp32") && device != QLatin1String("cuda"))
    out << QStringLiteral("Precision %1 needs the cuda device; on the CPU use fp32").arg(precision);
  if (batch < 0 || batch > 4096) out << QStringLiteral("Caption batch must be in [0, 4096]");
  if (processes < 1 || processes > 1024) out << QStringLiteral("Ranks must be in [1, 1024]");
  if (masterPort < 1 || masterPort > 65535) out << QStringLiteral("Master port must be in [1, 65535]");
  const QFileInfo outInfo(outputDir.trimmed());
  if (!outputDir.trimmed().isEmpty() && outInfo.exists() && !outInfo.isDir())
    out << QStringLiteral("Run folder: \"%1\" is a file, not a folder").arg(outputDir.trimmed());
  return out;
}

QStringList DatasetJobSpec::makeDatasetArguments() const {
  QStringList a{QStringLiteral("make-dataset"), QStringLiteral("--images"), images.trimmed(), QStringLiteral("--db"),
                db.trimmed()};
  if (useText) {
    a << QStringLiteral("--text") << text.trimmed();
  } else {
    a << QStringLiteral("--ram") << ram.trimmed();
    if (!ramTags.trimmed().isEmpty()) a << QStringLiteral("--ram-tags") << ramTags.trimmed();
  }
  a << QStringLiteral("--detector") << detector.trimmed() << QStringLiteral("--captioner") << captioner.trimmed()
    << QStringLiteral("--text-encoder") << textEncoder.trimmed() << QStringLiteral("--box-threshold")
    << numberText(boxThreshold) << QStringLiteral("--text-threshold") << numberText(textThreshold)
    << QStringLiteral("--nms-iou") << numberText(nmsIou) << QStringLiteral("--device") << device
    << QStringLiteral("--precision") << precision;
  if (batch > 0) a << QStringLiteral("--batch") << QString::number(batch);
  if (!outputDir.trimmed().isEmpty()) a << QStringLiteral("--output-dir") << outputDir.trimmed();
  // The dashboard reads the run folder; JSON lines on stdout keep the captured output parseable.
  a << QStringLiteral("--events");
  return a;
}

QStringList DatasetJobSpec::arguments() const {
  if (processes <= 1) return makeDatasetArguments();
  return QStringList{QStringLiteral("launch"),        QStringLiteral("--nproc-per-node"), QString::number(processes),
                     QStringLiteral("--master-port"), QString::number(masterPort),        QStringLiteral("--")} +
         makeDatasetArguments();
}

QString DatasetJobSpec::commandLine(const QString& program) const {
  QStringList parts{shellQuote(program)};
  for (const QString& a : arguments()) parts << shellQuote(a);
  return parts.join(QLatin1Char(' '));
}

QString DatasetJobSpec::defaultRunDirectory(const QString& dbPath) {
  // As the trainer names it: <db stem>-make-dataset beside the database.
  const QFileInfo info(dbPath.trimmed());
  return QDir(info.path()).filePath(info.completeBaseName() + QStringLiteral("-make-dataset"));
}

QString DatasetJobSpec::runDirectory() const {
  return outputDir.trimmed().isEmpty() ? defaultRunDirectory(db) : outputDir.trimmed();
}

bool DatasetJobSpec::isDatasetRun(const QJsonObject& run) {
  return run.value(QStringLiteral("command")).toString() == QLatin1String("make-dataset");
}

DatasetJobSpec DatasetJobSpec::fromRunJson(const QJsonObject& run, const QString& runDir) {
  DatasetJobSpec s;
  s.images = jsonPath(run, "images");
  s.db = jsonPath(run, "db");
  s.ram = jsonPath(run, "ram");
  s.ramTags = jsonPath(run, "ram_tags");
  s.useText = run.value(QStringLiteral("text")).isString();
  s.text = jsonPath(run, "text");
  s.detector = jsonPath(run, "detector");
  s.captioner = jsonPath(run, "captioner");
  s.textEncoder = jsonPath(run, "text_encoder");
  s.boxThreshold = run.value(QStringLiteral("box_threshold")).toDouble(0.25);
  s.textThreshold = run.value(QStringLiteral("text_threshold")).toDouble(0.2);
  s.nmsIou = run.value(QStringLiteral("nms_iou")).toDouble(0.5);
  if (run.value(QStringLiteral("device")).isString()) s.device = run.value(QStringLiteral("device")).toString();
  if (run.value(QStringLiteral("precision")).isString())
    s.precision = run.value(QStringLiteral("precision")).toString();
  s.batch = run.value(QStringLiteral("batch")).toInt(0);
  s.processes = std::max(1, run.value(QStringLiteral("world_size")).toInt(1));
  // The default folder is left implicit, so the command stays the one the user typed.
  if (!runDir.isEmpty() && QDir::cleanPath(QFileInfo(runDir).absoluteFilePath()) !=
                               QDir::cleanPath(QFileInfo(defaultRunDirectory(s.db)).absoluteFilePath()))
    s.outputDir = runDir;
  return s;
}

}  // namespace gligen::ui
