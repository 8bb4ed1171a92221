#include "ui/dashboard/dataset_job_form.h"

#include <QButtonGroup>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

namespace gligen::ui {

namespace {

enum Browse { kFolder, kOpenFile, kSaveDb };

QDoubleSpinBox* threshold(QWidget* parent, double lo, double hi, const QString& tip) {
  auto* s = new QDoubleSpinBox(parent);
  s->setRange(lo, hi);
  s->setDecimals(3);
  s->setSingleStep(0.05);
  s->setToolTip(tip);
  return s;
}

}  // namespace

QWidget* DatasetJobForm::pathRow(const QString& name, const QString& placeholder, const QString& tip, int browse) {
  auto* row = new QWidget(this);
  auto* h = new QHBoxLayout(row);
  h->setContentsMargins(0, 0, 0, 0);
  auto* line = new QLineEdit(row);
  line->setPlaceholderText(placeholder);
  line->setToolTip(QStringLiteral("--%1\n%2").arg(name, tip));
  h->addWidget(line, 1);
  if (name == QLatin1String("ram") || name == QLatin1String("detector") || name == QLatin1String("captioner") ||
      name == QLatin1String("text-encoder")) {
    auto* mark = new QLabel(row);
    mark->setFixedWidth(fontMetrics().horizontalAdvance(QStringLiteral("✗")) + 8);
    mark->setAlignment(Qt::AlignCenter);
    h->addWidget(mark);
    marks_.insert(name, mark);
  }
  auto* button = new QToolButton(row);
  button->setText(QStringLiteral("…"));
  button->setToolTip(QStringLiteral("Browse"));
  h->addWidget(button);
  connect(button, &QToolButton::clicked, this, [this, line, browse, tip] {
    const QString start = line->text().isEmpty() ? QDir::homePath() : line->text();
    QString chosen;
    if (browse == kFolder)
      chosen = QFileDialog::getExistingDirectory(this, tip, start);
    else if (browse == kOpenFile)
      chosen = QFileDialog::getOpenFileName(this, tip, start, QStringLiteral("RAM checkpoint (*.pth);;All files (*)"));
    else
      chosen = QFileDialog::getSaveFileName(this, tip, start, QStringLiteral("Annotation dataset (*.sqlite *.db)"),
                                            nullptr, QFileDialog::DontConfirmOverwrite);
    if (!chosen.isEmpty()) line->setText(chosen);
  });
  connect(line, &QLineEdit::textChanged, this, [this] { read(); });
  fields_.insert(name, line);
  return row;
}

DatasetJobForm::DatasetJobForm(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);

  auto* data = new QGroupBox(QStringLiteral("Images and dataset"), this);
  auto* dataForm = new QFormLayout(data);
  dataForm->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  dataForm->addRow(QStringLiteral("Images folder *:"),
                   pathRow(QStringLiteral("images"), QStringLiteral("required"),
                           QStringLiteral("The pictures to annotate (searched recursively)"), kFolder));
  dataForm->addRow(
      QStringLiteral("Dataset database *:"),
      pathRow(QStringLiteral("db"), QStringLiteral("required: a .sqlite file, created when missing"),
              QStringLiteral("The annotation dataset to fill; images already in it are skipped"), kSaveDb));
  dataForm->addRow(
      QStringLiteral("Run folder:"),
      pathRow(QStringLiteral("output-dir"), QStringLiteral("default: <database name>-make-dataset beside it"),
              QStringLiteral("run.json, events.jsonl, log.txt and the ranks' shards"), kFolder));
  layout->addWidget(data);

  auto* models = new QGroupBox(QStringLiteral("Models"), this);
  auto* modelForm = new QFormLayout(models);
  modelForm->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  auto* tagger = new QWidget(models);
  auto* taggerRow = new QHBoxLayout(tagger);
  taggerRow->setContentsMargins(0, 0, 0, 0);
  use_ram_ = new QRadioButton(QStringLiteral("RAM tags each image"), tagger);
  use_text_ = new QRadioButton(QStringLiteral("One detector text for every image"), tagger);
  auto* group = new QButtonGroup(tagger);
  group->addButton(use_ram_);
  group->addButton(use_text_);
  use_ram_->setChecked(true);
  taggerRow->addWidget(use_ram_);
  taggerRow->addWidget(use_text_);
  taggerRow->addStretch(1);
  connect(use_ram_, &QRadioButton::toggled, this, [this] { read(); });
  modelForm->addRow(QStringLiteral("Detector text from:"), tagger);
  modelForm->addRow(
      QStringLiteral("RAM checkpoint:"),
      pathRow(QStringLiteral("ram"), QStringLiteral("ram_swin_large_14m.pth, or the folder holding it"),
              QStringLiteral("RAM checkpoint file, or a folder with it, its configs and tag lists"), kOpenFile));
  modelForm->addRow(QStringLiteral("RAM tag lists:"),
                    pathRow(QStringLiteral("ram-tags"), QStringLiteral("optional: next to the checkpoint"),
                            QStringLiteral("Folder of RAM's tag-list files"), kFolder));
  auto* text = new QLineEdit(models);
  text->setPlaceholderText(QStringLiteral("cat. dog. car"));
  text->setToolTip(QStringLiteral("--text\nThe detector text for every image, phrases separated by \". \""));
  connect(text, &QLineEdit::textChanged, this, [this] { read(); });
  fields_.insert(QStringLiteral("text"), text);
  modelForm->addRow(QStringLiteral("Fixed text:"), text);
  modelForm->addRow(QStringLiteral("Grounding DINO *:"),
                    pathRow(QStringLiteral("detector"), QStringLiteral("required: e.g. grounding-dino-base"),
                            QStringLiteral("Grounding DINO folder (IDEA-Research/grounding-dino-base)"), kFolder));
  modelForm->addRow(QStringLiteral("BLIP-2 *:"),
                    pathRow(QStringLiteral("captioner"), QStringLiteral("required: e.g. blip2-flan-t5-xxl"),
                            QStringLiteral("BLIP-2 folder (Salesforce/blip2-flan-t5-xxl)"), kFolder));
  modelForm->addRow(
      QStringLiteral("CLIP text encoder *:"),
      pathRow(QStringLiteral("text-encoder"),
              QStringLiteral("required: clip-vit-large-patch14, or a diffusers pipeline folder"),
              QStringLiteral("CLIP folder as released, or a diffusers pipeline folder (text_encoder/, tokenizer/)"),
              kFolder));
  auto* checkRow = new QHBoxLayout;
  check_button_ = new QPushButton(QStringLiteral("Check with the Trainer"), models);
  check_button_->setToolTip(
      QStringLiteral("Run 'gligen-trainer make-dataset --check': it reads each model's configs and "
                     "tokenizer as loading would, without loading the weights"));
  check_result_ = new QLabel(models);
  // One line, elided to the width; the tooltip holds the trainer's whole report.
  check_result_->setMinimumWidth(50);
  check_result_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  check_result_->installEventFilter(this);
  check_result_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  checkRow->addWidget(check_button_, 0, Qt::AlignTop);
  checkRow->addWidget(check_result_, 1);
  modelForm->addRow(checkRow);
  connect(check_button_, &QPushButton::clicked, this, [this] { runTrainerCheck(); });
  layout->addWidget(models);

  auto* run = new QGroupBox(QStringLiteral("Detection and hardware"), this);
  auto* runForm = new QFormLayout(run);
  auto* thresholds = new QWidget(run);
  auto* th = new QHBoxLayout(thresholds);
  th->setContentsMargins(0, 0, 0, 0);
  auto* box =
      threshold(thresholds, 0, 1, QStringLiteral("--box-threshold\nKeep detections scoring above this (seed: 0.25)"));
  auto* txt =
      threshold(thresholds, 0, 1, QStringLiteral("--text-threshold\nLabel tokens are those above this (seed: 0.2)"));
  auto* nms =
      threshold(thresholds, -1, 1,
                QStringLiteral("--nms-iou\nDrop boxes overlapping a better one by more than this IoU (seed: 0.5)"));
  th->addWidget(new QLabel(QStringLiteral("box"), thresholds));
  th->addWidget(box);
  th->addWidget(new QLabel(QStringLiteral("text"), thresholds));
  th->addWidget(txt);
  th->addWidget(new QLabel(QStringLiteral("NMS IoU"), thresholds));
  th->addWidget(nms);
  th->addStretch(1);
  fields_.insert(QStringLiteral("box-threshold"), box);
  fields_.insert(QStringLiteral("text-threshold"), txt);
  fields_.insert(QStringLiteral("nms-iou"), nms);
  runForm->addRow(QStringLiteral("Thresholds:"), thresholds);

  auto* hw = new QWidget(run);
  auto* hh = new QHBoxLayout(hw);
  hh->setContentsMargins(0, 0, 0, 0);
  auto* ranks = new QSpinBox(hw);
  ranks->setRange(1, 1024);
  ranks->setToolTip(
      QStringLiteral("Processes, each on its own share of the images; more than 1 starts them with "
                     "'gligen-trainer launch --nproc-per-node N'"));
  auto* device = new QComboBox(hw);
  device->addItems({QStringLiteral("cpu"), QStringLiteral("cuda")});
  device->setToolTip(QStringLiteral("--device\ncuda: each rank takes cuda:LOCAL_RANK"));
  auto* precision = new QComboBox(hw);
  precision->addItems({QStringLiteral("fp32"), QStringLiteral("fp16"), QStringLiteral("bf16")});
  precision->setToolTip(QStringLiteral("--precision\nof the detector and the captioner; fp16 and bf16 need cuda"));
  auto* batch = new QSpinBox(hw);
  batch->setRange(0, 4096);
  batch->setSpecialValueText(QStringLiteral("all boxes"));
  batch->setToolTip(QStringLiteral("--batch\nCrops per captioner pass (all boxes of an image at once by default)"));
  auto* port = new QSpinBox(hw);
  port->setRange(1, 65535);
  port->setToolTip(QStringLiteral("--master-port of 'launch': the ranks' rendezvous port"));
  hh->addWidget(new QLabel(QStringLiteral("ranks"), hw));
  hh->addWidget(ranks);
  hh->addWidget(new QLabel(QStringLiteral("device"), hw));
  hh->addWidget(device);
  hh->addWidget(new QLabel(QStringLiteral("precision"), hw));
  hh->addWidget(precision);
  hh->addWidget(new QLabel(QStringLiteral("caption batch"), hw));
  hh->addWidget(batch);
  hh->addWidget(new QLabel(QStringLiteral("port"), hw));
  hh->addWidget(port);
  hh->addStretch(1);
  fields_.insert(QStringLiteral("ranks"), ranks);
  fields_.insert(QStringLiteral("device"), device);
  fields_.insert(QStringLiteral("precision"), precision);
  fields_.insert(QStringLiteral("batch"), batch);
  fields_.insert(QStringLiteral("master-port"), port);
  runForm->addRow(QStringLiteral("Run:"), hw);
  layout->addWidget(run);
  layout->addStretch(1);

  for (auto* s : {box, txt, nms}) connect(s, &QDoubleSpinBox::valueChanged, this, [this] { read(); });
  for (auto* s : {ranks, batch, port}) connect(s, &QSpinBox::valueChanged, this, [this] { read(); });
  for (auto* c : {device, precision}) connect(c, &QComboBox::currentTextChanged, this, [this] { read(); });
  write();
}

DatasetJobForm::~DatasetJobForm() {
  if (check_) {
    check_->disconnect(this);
    check_->kill();
    check_->waitForFinished(2000);
  }
}

void DatasetJobForm::elideCheckResult() {
  check_result_->setText(check_result_->fontMetrics().elidedText(check_text_, Qt::ElideRight, check_result_->width()));
}

bool DatasetJobForm::eventFilter(QObject* watched, QEvent* event) {
  if (watched == check_result_ && event->type() == QEvent::Resize) elideCheckResult();
  return QWidget::eventFilter(watched, event);
}

bool DatasetJobForm::runTrainerCheck() {
  if (check_) return false;
  QStringList args{QStringLiteral("make-dataset"), QStringLiteral("--check")};
  if (spec_.useText)
    args << QStringLiteral("--text") << spec_.text.trimmed();
  else
    args << QStringLiteral("--ram") << spec_.ram.trimmed();
  args << QStringLiteral("--detector") << spec_.detector.trimmed() << QStringLiteral("--captioner")
       << spec_.captioner.trimmed() << QStringLiteral("--text-encoder") << spec_.textEncoder.trimmed();
  auto* p = new QProcess(this);
  check_ = p;
  check_button_->setEnabled(false);
  check_result_->setStyleSheet(QString());
  check_text_ = QStringLiteral("checking…");
  elideCheckResult();
  const auto report = [this, p](bool ok, const QString& text) {
    check_ = nullptr;
    p->deleteLater();
    check_button_->setEnabled(true);
    check_result_->setStyleSheet(ok ? QStringLiteral("color: #2e9d4f;") : QStringLiteral("color: #c0392b;"));
    check_text_ = text;
    check_result_->setToolTip(text);
    elideCheckResult();
    Q_EMIT checkFinished(ok, text);
  };
  connect(p, &QProcess::finished, this, [p, report](int code, QProcess::ExitStatus status) {
    const QString out = QString::fromUtf8(p->readAllStandardOutput()).trimmed();
    const QString err = QString::fromUtf8(p->readAllStandardError()).trimmed();
    if (status == QProcess::NormalExit && code == 0) {
      report(true, out.split(QLatin1Char('\n')).last());
      return;
    }
    // "gligen-trainer make-dataset: error: <problems>"
    QString why = err.isEmpty() ? out : err.split(QLatin1Char('\n')).last();
    const qsizetype at = why.indexOf(QLatin1String("error: "));
    if (at >= 0) why = why.mid(at + 7);
    report(false, why.isEmpty() ? QStringLiteral("the trainer's check failed (exit status %1)").arg(code) : why);
  });
  connect(p, &QProcess::errorOccurred, this, [this, p, report](QProcess::ProcessError e) {
    if (e == QProcess::FailedToStart)
      report(false, QStringLiteral("cannot run %1: %2 (is gligen-trainer built?)").arg(program_, p->errorString()));
  });
  p->start(program_.isEmpty() ? QStringLiteral("gligen-trainer") : program_, args);
  return true;
}

void DatasetJobForm::setSpec(const DatasetJobSpec& spec) {
  spec_ = spec;
  write();
}

QString DatasetJobForm::modelCheck(const QString& name) const {
  QLabel* mark = marks_.value(name);
  return mark && mark->text() != QStringLiteral("✓") ? mark->toolTip() : QString();
}

void DatasetJobForm::read() {
  if (writing_) return;
  const auto line = [&](const char* n) { return qobject_cast<QLineEdit*>(fields_.value(QLatin1String(n)))->text(); };
  const auto real = [&](const char* n) {
    return qobject_cast<QDoubleSpinBox*>(fields_.value(QLatin1String(n)))->value();
  };
  const auto integer = [&](const char* n) { return qobject_cast<QSpinBox*>(fields_.value(QLatin1String(n)))->value(); };
  const auto choice = [&](const char* n) {
    return qobject_cast<QComboBox*>(fields_.value(QLatin1String(n)))->currentText();
  };
  spec_.images = line("images");
  spec_.db = line("db");
  spec_.outputDir = line("output-dir");
  spec_.useText = use_text_->isChecked();
  spec_.ram = line("ram");
  spec_.ramTags = line("ram-tags");
  spec_.text = line("text");
  spec_.detector = line("detector");
  spec_.captioner = line("captioner");
  spec_.textEncoder = line("text-encoder");
  spec_.boxThreshold = real("box-threshold");
  spec_.textThreshold = real("text-threshold");
  spec_.nmsIou = real("nms-iou");
  spec_.processes = integer("ranks");
  spec_.masterPort = integer("master-port");
  spec_.batch = integer("batch");
  spec_.device = choice("device");
  spec_.precision = choice("precision");
  // A trainer check of other paths says nothing about these.
  if (!check_ && !check_text_.isEmpty()) {
    check_text_.clear();
    check_result_->clear();
    check_result_->setToolTip(QString());
  }
  updateChecks();
  Q_EMIT changed();
}

void DatasetJobForm::write() {
  writing_ = true;
  const auto line = [&](const char* n, const QString& v) {
    qobject_cast<QLineEdit*>(fields_.value(QLatin1String(n)))->setText(v);
  };
  const auto real = [&](const char* n, double v) {
    qobject_cast<QDoubleSpinBox*>(fields_.value(QLatin1String(n)))->setValue(v);
  };
  const auto integer = [&](const char* n, int v) {
    qobject_cast<QSpinBox*>(fields_.value(QLatin1String(n)))->setValue(v);
  };
  const auto choice = [&](const char* n, const QString& v) {
    qobject_cast<QComboBox*>(fields_.value(QLatin1String(n)))->setCurrentText(v);
  };
  line("images", spec_.images);
  line("db", spec_.db);
  line("output-dir", spec_.outputDir);
  (spec_.useText ? use_text_ : use_ram_)->setChecked(true);
  line("ram", spec_.ram);
  line("ram-tags", spec_.ramTags);
  line("text", spec_.text);
  line("detector", spec_.detector);
  line("captioner", spec_.captioner);
  line("text-encoder", spec_.textEncoder);
  real("box-threshold", spec_.boxThreshold);
  real("text-threshold", spec_.textThreshold);
  real("nms-iou", spec_.nmsIou);
  integer("ranks", spec_.processes);
  integer("master-port", spec_.masterPort);
  integer("batch", spec_.batch);
  choice("device", spec_.device);
  choice("precision", spec_.precision);
  writing_ = false;
  read();
}

void DatasetJobForm::updateChecks() {
  // RAM or the fixed text: the other one's fields are greyed out.
  for (const char* n : {"ram", "ram-tags"}) fields_.value(QLatin1String(n))->parentWidget()->setEnabled(!spec_.useText);
  fields_.value(QStringLiteral("text"))->setEnabled(spec_.useText);
  const auto mark = [&](const QString& name, const QString& path, const QString& problem) {
    QLabel* m = marks_.value(name);
    if (path.trimmed().isEmpty()) {
      m->setText(QString());
      m->setToolTip(QString());
      return;
    }
    m->setText(problem.isEmpty() ? QStringLiteral("✓") : QStringLiteral("✗"));
    m->setStyleSheet(problem.isEmpty() ? QStringLiteral("color: #2e9d4f; font-weight: bold;")
                                       : QStringLiteral("color: #c0392b; font-weight: bold;"));
    m->setToolTip(problem.isEmpty() ? QStringLiteral("The files of this model are there") : problem);
  };
  mark(QStringLiteral("ram"), spec_.useText ? QString() : spec_.ram, DatasetJobSpec::ramProblem(spec_.ram.trimmed()));
  mark(QStringLiteral("detector"), spec_.detector, DatasetJobSpec::detectorProblem(spec_.detector.trimmed()));
  mark(QStringLiteral("captioner"), spec_.captioner, DatasetJobSpec::captionerProblem(spec_.captioner.trimmed()));
  mark(QStringLiteral("text-encoder"), spec_.textEncoder,
       DatasetJobSpec::textEncoderProblem(spec_.textEncoder.trimmed()));
}

}  // namespace gligen::ui
