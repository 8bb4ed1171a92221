#include "ui/jobs/training_job_spec.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QRegularExpression>
#include <cmath>

namespace gligen::ui {

namespace {

using K = TrainingFlag::Kind;

TrainingFlag flag(QString name, QString group, K kind, QString label, QString fallback, QString help) {
  TrainingFlag f;
  f.name = std::move(name);
  f.group = std::move(group);
  f.kind = kind;
  f.label = std::move(label);
  f.fallback = std::move(fallback);
  f.help = std::move(help);
  return f;
}

TrainingFlag ranged(TrainingFlag f, double lo, double hi) {
  f.min = lo;
  f.max = hi;
  return f;
}

TrainingFlag required(TrainingFlag f) {
  f.required = true;
  return f;
}

TrainingFlag optionalValue(TrainingFlag f) {
  f.optional = true;
  return f;
}

TrainingFlag choice(TrainingFlag f, QStringList choices) {
  f.choices = std::move(choices);
  return f;
}

QVector<TrainingFlag> buildFlags() {
  const QString data = QStringLiteral("Data"), model = QStringLiteral("Model"), opt = QStringLiteral("Optimisation"),
                sched = QStringLiteral("Schedule"), ckpt = QStringLiteral("Checkpoints"),
                val = QStringLiteral("Validation"), hw = QStringLiteral("Hardware");
  const double big = 1e12;
  return {
      required(flag("data-path", data, K::File, "Records", "",
                    "The seed's .pth record list (or a folder of per-image .pth files), its JSON form, or an "
                    "annotation dataset made with 'gligen-trainer dataset import'.")),
      flag("image-path", data, K::Folder, "Image folder", "",
           "The folder the records' file_path are relative to (an annotation dataset knows its own)."),
      ranged(flag("resolution", data, K::Integer, "Resolution", "512",
                  "Training image size: shorter side resized, then a center crop. A multiple of 8."),
             8, 4096),
      ranged(flag("dataloader-num-workers", data, K::Integer, "Decoding threads", "0",
                  "Threads that decode and augment images ahead of the model (0: on the training thread)."),
             0, 256),
      ranged(flag("prob-drop-captions", data, K::Real, "Caption drop chance", "0.5",
                  "Chance that a sample trains with the empty caption (the boxes alone carry its objects)."),
             0, 1),
      ranged(flag("prob-drop-boxes", data, K::Real, "Box drop chance", "0.1",
                  "Chance that a sample trains with no boxes at all."),
             0, 1),
      flag("cache-latents", data, K::Switch, "Encode images once (latent cache)", "",
           "Encode every image with the frozen VAE before the first step and reuse the result; faster when the "
           "VAE is large next to the UNet, costs memory (two latents per image)."),
      flag("embed-with-model", data, K::Switch, "Re-embed captions with the model", "",
           "Embed the box captions with the model's own text encoder (cached in the run folder) instead of "
           "using the stored embeddings; needed when they were made for another encoder size."),

      required(flag("pretrained-model", model, K::Folder, "Model folder", "",
                    "A diffusers GLIGEN pipeline folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/).")),
      flag("unet", model, K::Folder, "UNet override", "", "A UNet folder (config.json + weights) replacing unet/."),
      flag("no-reset-grounding-params", model, K::Switch, "Keep the grounding layers' weights", "",
           "Continue fine-tuning the model's fuser / position_net weights instead of re-initialising them "
           "(the seed re-initialises)."),
      choice(flag("trainable", model, K::Choice, "Train", "grounding",
                  "grounding: the fusers and position net (the GLIGEN recipe); unet: every UNet parameter (a model "
                  "from scratch, e.g. init-model --preset shapes-tiny)."),
             {"grounding", "unet"}),

      ranged(flag("train-batch-size", opt, K::Integer, "Batch size per process", "4", "Images per step and process."),
             1, 4096),
      ranged(flag("gradient-accumulation-steps", opt, K::Integer, "Gradient accumulation", "1",
                  "Micro-batches per optimizer step."),
             1, 100000),
      ranged(flag("learning-rate", opt, K::Real, "Learning rate", "5e-6", "Learning rate after warm-up."), 1e-12, 1),
      flag("scale-lr", opt, K::Switch, "Scale the learning rate", "",
           "Multiply the learning rate by accumulation x batch size x processes."),
      ranged(flag("adam-beta1", opt, K::Real, "AdamW beta1", "0.9", ""), 0, 0.999999),
      ranged(flag("adam-beta2", opt, K::Real, "AdamW beta2", "0.999", ""), 0, 0.9999999),
      ranged(flag("adam-weight-decay", opt, K::Real, "AdamW weight decay", "1e-2", ""), 0, 10),
      ranged(flag("adam-epsilon", opt, K::Real, "AdamW epsilon", "1e-8", ""), 1e-30, 1),
      ranged(flag("max-grad-norm", opt, K::Real, "Gradient clipping norm", "1.0", ""), 1e-9, 1e9),
      choice(flag("mixed-precision", opt, K::Choice, "Mixed precision", "no",
                  "fp16 needs CUDA; bf16 also runs on the CPU with LibTorch 2.x."),
             {"no", "fp16", "bf16"}),
      ranged(flag("seed", opt, K::Integer, "Seed", "0",
                  "Seed of every random draw (data order, drops, noise, timesteps, re-initialisation)."),
             0, 9.2e18),

      ranged(optionalValue(flag("max-train-steps", sched, K::Integer, "Steps", "",
                                "Optimizer steps in total; empty: epochs x steps per epoch.")),
             1, big),
      ranged(flag("num-train-epochs", sched, K::Integer, "Epochs", "1", "Used when Steps is empty."), 1, 1e6),
      ranged(optionalValue(flag("stop-at-step", sched, K::Integer, "Stop at step", "",
                                "End after this step as if it were the last (checkpoint and unet/ written), the "
                                "schedule staying that of Steps; empty: run to the end.")),
             1, big),
      choice(flag("lr-scheduler", sched, K::Choice, "Learning-rate schedule", "constant", ""),
             {"constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"}),
      ranged(flag("lr-warmup-steps", sched, K::Integer, "Warm-up steps", "500", ""), 0, big),
      ranged(flag("lr-num-cycles", sched, K::Integer, "Restarts (cosine_with_restarts)", "1", ""), 1, 1e6),
      ranged(flag("lr-power", sched, K::Real, "Power (polynomial)", "1.0", ""), 1e-6, 1000),
      choice(flag("timestep-bias-strategy", sched, K::Choice, "Timestep bias", "none",
                  "Draw some timesteps more often: later = the noisiest, where an image's layout is decided."),
             {"none", "later", "earlier", "range"}),
      ranged(flag("timestep-bias-multiplier", sched, K::Real, "Bias multiplier", "1",
                  "How many times as often the biased timesteps are drawn."),
             1e-6, 1e6),
      ranged(flag("timestep-bias-portion", sched, K::Real, "Bias portion", "0.25",
                  "later / earlier: the fraction of the timesteps biased."),
             1e-6, 1),
      ranged(flag("timestep-bias-begin", sched, K::Integer, "Bias range begin", "0", "range: first biased timestep."),
             0, 1e9),
      ranged(flag("timestep-bias-end", sched, K::Integer, "Bias range end", "1000",
                  "range: one past the last biased timestep."),
             1, 1e9),

      required(flag("output-dir", ckpt, K::OutFolder, "Run folder", "",
                    "Where run.json, events.jsonl, log.txt, checkpoints/, images/ and the trained unet/ go.")),
      ranged(flag("checkpointing-steps", ckpt, K::Integer, "Checkpoint every", "500", "Steps between checkpoints."), 1,
             big),
      ranged(optionalValue(flag("checkpoints-total-limit", ckpt, K::Integer, "Keep at most", "",
                                "Checkpoints kept (oldest pruned); empty: all.")),
             1, 1e6),
      flag("resume-from-checkpoint", ckpt, K::Text, "Resume from", "",
           "\"latest\" (the newest complete checkpoint of the run folder) or a checkpoint folder."),

      ranged(flag("validation-steps", val, K::Integer, "Validate every", "0",
                  "Steps between validation images (0: never)."),
             0, big),
      flag("validation-prompt", val, K::Text, "Prompt", "", "Empty: the seed's landscape prompt."),
      flag("validation-negative-prompt", val, K::Text, "Negative prompt", "", "Empty: the seed's."),
      flag("validation-boxes", val, K::Boxes, "Boxes", "",
           "One box per line, \"phrase: x0,y0,x1,y1\" in [0, 1]; empty: the seed's four boxes."),
      ranged(flag("validation-inference-steps", val, K::Integer, "Denoising steps", "50", ""), 1, 1000),
      ranged(flag("validation-images", val, K::Integer, "Images per validation", "4", ""), 1, 16),
      flag("grounding-detector", val, K::Folder, "Grounding detector", "",
           "A Grounding DINO folder: each validation checks whether the boxes came out (chart beside the loss)."),
      ranged(
          flag("grounding-iou", val, K::Real, "Found when IoU ≥", "0.5", "How much a detection must overlap its box."),
          0.01, 1),
      flag("shapes-heldout", val, K::File, "Held-out shapes layouts", "",
           "make-shapes-dataset's --heldout-layouts file: each validation generates them and charts the shapes hit "
           "rate (boxes whose colour's object came out there) beside the loss."),
      ranged(
          flag("shapes-heldout-count", val, K::Integer, "Held-out layouts checked", "32", "The first N of the file."),
          1, 100000),
      ranged(
          flag("shapes-iou", val, K::Real, "Shapes hit when IoU ≥", "0.5", "How much the object must overlap its box."),
          0.01, 1),

      choice(flag("device", hw, K::Choice, "Device", "cpu",
                  "cuda means cuda:LOCAL_RANK for each process of a multi-process job."),
             {"cpu", "cuda"}),
      ranged(optionalValue(
                 flag("threads", hw, K::Integer, "CPU threads", "", "LibTorch threads per process; empty: all cores.")),
             1, 1024),
  };
}

bool parseBoxLine(const QString& line, QString& phrase, QString& box, QString& problem) {
  const int colon = line.lastIndexOf(QLatin1Char(':'));
  if (colon <= 0) {
    problem = QStringLiteral("\"%1\" is not \"phrase: x0,y0,x1,y1\"").arg(line);
    return false;
  }
  phrase = line.left(colon).trimmed();
  const QStringList parts = line.mid(colon + 1).split(QLatin1Char(','), Qt::SkipEmptyParts);
  double v[4];
  bool ok = parts.size() == 4 && !phrase.isEmpty();
  for (int i = 0; ok && i < 4; ++i) v[i] = parts[i].trimmed().toDouble(&ok);
  if (!ok || !(v[0] >= 0 && v[1] >= 0 && v[2] <= 1 && v[3] <= 1 && v[0] < v[2] && v[1] < v[3])) {
    problem =
        QStringLiteral("\"%1\": the box must be 4 numbers with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1").arg(line);
    return false;
  }
  QStringList clean;
  for (const QString& p : parts) clean << p.trimmed();
  box = clean.join(QLatin1Char(','));
  return true;
}

QString jsonText(const QJsonValue& v) {
  if (v.isString()) return v.toString();
  if (v.isBool()) return v.toBool() ? QStringLiteral("1") : QString();
  if (v.isDouble()) {
    const double d = v.toDouble();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return QString::number(static_cast<qint64>(d));
    return QString::number(d, 'g', 12);
  }
  return {};
}

}  // namespace

const QVector<TrainingFlag>& trainingFlags() {
  static const QVector<TrainingFlag> flags = buildFlags();
  return flags;
}

const TrainingFlag* findTrainingFlag(const QString& name) {
  for (const auto& f : trainingFlags())
    if (f.name == name) return &f;
  return nullptr;
}

QStringList trainingFlagGroups() {
  QStringList groups;
  for (const auto& f : trainingFlags())
    if (!groups.contains(f.group)) groups << f.group;
  return groups;
}

bool TrainingJobSpec::isOn(const QString& flag) const {
  const QString v = value(flag).trimmed().toLower();
  return !v.isEmpty() && v != QLatin1String("0") && v != QLatin1String("false") && v != QLatin1String("no");
}

QStringList TrainingJobSpec::problems() const {
  QStringList out;
  for (const auto& f : trainingFlags()) {
    const QString v = value(f.name).trimmed();
    if (v.isEmpty()) {
      if (f.required) out << QStringLiteral("%1 (--%2) is required").arg(f.label, f.name);
      continue;
    }
    switch (f.kind) {
      case K::Folder:
        if (!QFileInfo(v).isDir()) out << QStringLiteral("%1: the folder \"%2\" does not exist").arg(f.label, v);
        break;
      case K::File:
        if (!QFileInfo::exists(v)) out << QStringLiteral("%1: \"%2\" does not exist").arg(f.label, v);
        break;
      case K::OutFolder: {
        QFileInfo info(v);
        if (info.exists() && !info.isDir()) out << QStringLiteral("%1: \"%2\" is a file, not a folder").arg(f.label, v);
        break;
      }
      case K::Integer: {
        bool ok = false;
        const double d = v.toDouble(&ok);
        if (!ok || std::floor(d) != d) {
          out << QStringLiteral("%1: \"%2\" is not a whole number").arg(f.label, v);
        } else if (d < f.min || d > f.max) {
          out << QStringLiteral("%1 must be in [%2, %3]").arg(f.label).arg(f.min, 0, 'g', 12).arg(f.max, 0, 'g', 12);
        } else if (f.name == QLatin1String("resolution") && static_cast<qint64>(d) % 8 != 0) {
          out << QStringLiteral("%1 must be a multiple of 8").arg(f.label);
        }
        break;
      }
      case K::Real: {
        bool ok = false;
        const double d = v.toDouble(&ok);
        if (!ok || !std::isfinite(d)) {
          out << QStringLiteral("%1: \"%2\" is not a number").arg(f.label, v);
        } else if (d < f.min || d > f.max) {
          out << QStringLiteral("%1 must be in [%2, %3]").arg(f.label).arg(f.min, 0, 'g', 6).arg(f.max, 0, 'g', 6);
        }
        break;
      }
      case K::Choice:
        if (!f.choices.contains(v)) out << QStringLiteral("%1 must be one of %2").arg(f.label, f.choices.join(", "));
        break;
      case K::Boxes: {
        const QStringList lines = v.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        if (lines.size() > 30) out << QStringLiteral("%1: at most 30 boxes").arg(f.label);
        for (const QString& line : lines) {
          QString phrase, box, problem;
          if (!line.trimmed().isEmpty() && !parseBoxLine(line.trimmed(), phrase, box, problem))
            out << QStringLiteral("%1: %2").arg(f.label, problem);
        }
        break;
      }
      case K::Switch:
      case K::Text: break;
    }
  }
  if (value("mixed-precision") == QLatin1String("fp16") && value("device") != QLatin1String("cuda"))
    out << QStringLiteral("Mixed precision fp16 needs the cuda device");
  if (processes < 1 || processes > 1024) out << QStringLiteral("Processes must be in [1, 1024]");
  if (!gpus.isEmpty() && value("device") != QLatin1String("cuda"))
    out << QStringLiteral("GPUs were chosen but the device is cpu");
  if (!gpus.isEmpty() && processes > gpus.size())
    out << QStringLiteral("%1 processes need %1 GPUs; %2 chosen").arg(processes).arg(gpus.size());
  if (masterPort < 1 || masterPort > 65535) out << QStringLiteral("Master port must be in [1, 65535]");
  return out;
}

QStringList TrainingJobSpec::trainArguments() const {
  QStringList args{QStringLiteral("train")};
  for (const auto& f : trainingFlags()) {
    const QString v = value(f.name).trimmed();
    if (v.isEmpty()) continue;
    if (f.kind == K::Switch) {
      if (isOn(f.name)) args << QStringLiteral("--") + f.name;
    } else if (f.kind == K::Boxes) {
      for (const QString& line : v.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
        QString phrase, box, problem;
        if (!parseBoxLine(line.trimmed(), phrase, box, problem)) continue;  // problems() reports it
        args << QStringLiteral("--validation-phrase") << phrase << QStringLiteral("--validation-box") << box;
      }
    } else {
      args << QStringLiteral("--") + f.name << v;
    }
  }
  // The dashboard reads the run folder; JSON lines on stdout keep the captured output parseable.
  args << QStringLiteral("--events");
  return args;
}

QStringList TrainingJobSpec::arguments() const {
  if (processes <= 1) return trainArguments();
  return QStringList{QStringLiteral("launch"),        QStringLiteral("--nproc-per-node"), QString::number(processes),
                     QStringLiteral("--master-port"), QString::number(masterPort),        QStringLiteral("--")} +
         trainArguments();
}

QMap<QString, QString> TrainingJobSpec::environment() const {
  QMap<QString, QString> env;
  if (!gpus.isEmpty()) env.insert(QStringLiteral("CUDA_VISIBLE_DEVICES"), gpus.join(QLatin1Char(',')));
  return env;
}

QString shellQuote(const QString& s) {
  static const QRegularExpression safe(QStringLiteral("^[A-Za-z0-9_./:=,+@%-]+$"));
  if (!s.isEmpty() && safe.match(s).hasMatch()) return s;
  QString q = s;
  q.replace(QLatin1String("'"), QLatin1String("'\\''"));
  return QLatin1Char('\'') + q + QLatin1Char('\'');
}

QString TrainingJobSpec::commandLine(const QString& program) const {
  QStringList parts;
  const auto env = environment();
  for (auto it = env.begin(); it != env.end(); ++it) parts << it.key() + QLatin1Char('=') + shellQuote(it.value());
  parts << shellQuote(program);
  for (const QString& a : arguments()) parts << shellQuote(a);
  return parts.join(QLatin1Char(' '));
}

TrainingJobSpec TrainingJobSpec::fromRunJson(const QJsonObject& run, const QString& checkpoint) {
  TrainingJobSpec spec;
  for (const auto& f : trainingFlags()) {
    if (f.kind == K::Boxes) continue;
    QString key = f.name;
    key.replace(QLatin1Char('-'), QLatin1Char('_'));
    if (f.name == QLatin1String("no-reset-grounding-params")) {
      if (run.contains(QStringLiteral("reset_grounding_params")) &&
          !run.value(QStringLiteral("reset_grounding_params")).toBool())
        spec.set(f.name, QStringLiteral("1"));
      continue;
    }
    if (run.contains(key)) spec.set(f.name, jsonText(run.value(key)));
  }
  // The seed defaults are written into run.json resolved; an empty prompt means "the seed's".
  const QJsonArray boxes = run.value(QStringLiteral("validation_boxes")).toArray();
  QStringList lines;
  for (const QJsonValue& b : boxes) {
    const QJsonObject o = b.toObject();
    const QJsonArray xy = o.value(QStringLiteral("box")).toArray();
    if (xy.size() != 4) continue;
    lines << QStringLiteral("%1: %2,%3,%4,%5")
                 .arg(o.value(QStringLiteral("phrase")).toString())
                 .arg(xy[0].toDouble(), 0, 'g', 9)
                 .arg(xy[1].toDouble(), 0, 'g', 9)
                 .arg(xy[2].toDouble(), 0, 'g', 9)
                 .arg(xy[3].toDouble(), 0, 'g', 9);
  }
  if (!lines.isEmpty()) spec.set(QStringLiteral("validation-boxes"), lines.join(QLatin1Char('\n')));
  spec.set(QStringLiteral("resume-from-checkpoint"), checkpoint);
  spec.processes = std::max(1, run.value(QStringLiteral("world_size")).toInt(1));
  return spec;
}

QVector<TrainingJobPreset> TrainingJobSpec::presets(const QString& tinyModelFolder) {
  QVector<TrainingJobPreset> out;
  {
    // diffusers examples/research_projects/gligen README: 8 GPUs, COCO 2017, 100k steps.
    TrainingJobSpec s;
    s.processes = 8;
    s.values = {{"data-path", "coco_train2017.pth"},
                {"image-path", "train2017"},
                {"pretrained-model", "models/gligen-1-4-text-box"},
                {"output-dir", "runs/gligen-coco"},
                {"resolution", "512"},
                {"train-batch-size", "8"},
                {"max-train-steps", "100000"},
                {"checkpointing-steps", "1000"},
                {"checkpoints-total-limit", "10"},
                {"learning-rate", "5e-5"},
                {"dataloader-num-workers", "16"},
                {"mixed-precision", "fp16"},
                {"device", "cuda"},
                {"validation-steps", "1000"}};
    out.push_back({QStringLiteral("Seed COCO recipe (8 GPUs)"),
                   QStringLiteral("The seed's run: COCO 2017, 8 processes x batch 8, 100k steps, lr 5e-5, fp16 "
                                  "(about 11 hours on 8 A100s). Fill in your paths."),
                   s});
  }
  {
    TrainingJobSpec s;
    s.values = {{"pretrained-model", tinyModelFolder},
                {"output-dir", QDir::home().filePath(QStringLiteral("gligen-runs/smoke"))},
                {"resolution", "64"},
                {"train-batch-size", "2"},
                {"max-train-steps", "40"},
                {"checkpointing-steps", "10"},
                {"checkpoints-total-limit", "3"},
                {"learning-rate", "1e-3"},
                {"lr-scheduler", "constant"},
                {"embed-with-model", "1"},
                {"validation-steps", "20"},
                {"validation-inference-steps", "4"},
                {"validation-images", "2"},
                {"device", "cpu"}};
    out.push_back({QStringLiteral("CPU smoke run (tiny model)"),
                   QStringLiteral("40 steps of a tiny random model on the CPU in a minute or two: checks the data, "
                                  "the run folder and the dashboard before a long job. Pick a dataset."),
                   s});
  }
  return out;
}

}  // namespace gligen::ui
