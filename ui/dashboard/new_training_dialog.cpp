#include "ui/dashboard/new_training_dialog.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTabWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include "ui/dashboard/dataset_job_form.h"

namespace gligen::ui {

using K = TrainingFlag::Kind;

NewTrainingDialog::NewTrainingDialog(QString trainerProgram, QWidget* parent, QString tinyModelFolder)
    : QDialog(parent), program_(std::move(trainerProgram)), presets_(TrainingJobSpec::presets(tinyModelFolder)) {
  setWindowTitle(QStringLiteral("New Job"));
  auto* outer = new QVBoxLayout(this);
  auto* kindRow = new QHBoxLayout;
  kindRow->addWidget(new QLabel(QStringLiteral("Job:"), this));
  kind_ = new QComboBox(this);
  kind_->addItem(QStringLiteral("Train GLIGEN (gligen-trainer train)"));
  kind_->addItem(QStringLiteral("Make a dataset from images (gligen-trainer make-dataset)"));
  kind_->setToolTip(
      QStringLiteral("A training run, or a dataset job: RAM tags, Grounding DINO boxes, BLIP-2 captions "
                     "and CLIP embeddings of a folder of images into an annotation dataset"));
  kindRow->addWidget(kind_, 1);
  outer->addLayout(kindRow);
  pages_ = new QStackedWidget(this);
  outer->addWidget(pages_, 1);
  auto* trainingPage = new QWidget(pages_);
  auto* layout = new QVBoxLayout(trainingPage);
  layout->setContentsMargins(0, 0, 0, 0);
  pages_->addWidget(trainingPage);
  dataset_form_ = new DatasetJobForm(pages_);
  dataset_form_->setTrainerProgram(program_);
  pages_->addWidget(dataset_form_);
  connect(dataset_form_, &DatasetJobForm::changed, this, [this] { updateState(); });
  connect(kind_, &QComboBox::currentIndexChanged, this, [this](int i) {
    pages_->setCurrentIndex(i);
    updateState();
  });

  auto* presetRow = new QHBoxLayout;
  presetRow->addWidget(new QLabel(QStringLiteral("Preset:"), this));
  preset_ = new QComboBox(this);
  preset_->addItem(QStringLiteral("(none)"));
  for (const auto& p : presets_) preset_->addItem(p.name);
  presetRow->addWidget(preset_, 1);
  layout->addLayout(presetRow);
  preset_text_ = new QLabel(this);
  preset_text_->setWordWrap(true);
  preset_text_->setStyleSheet(QStringLiteral("color: palette(mid);"));
  layout->addWidget(preset_text_);

  tabs_ = new QTabWidget(this);
  QMap<QString, QFormLayout*> forms;
  for (const QString& group : trainingFlagGroups()) {
    auto* page = new QWidget(tabs_);
    auto* form = new QFormLayout(page);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    forms.insert(group, form);
    tabs_->addTab(page, group);
  }
  for (const auto& f : trainingFlags()) {
    QWidget* editor = makeField(f);
    QString label = f.label + (f.required ? QStringLiteral(" *") : QString());
    QFormLayout* form = forms.value(f.group);
    if (f.kind == K::Switch) {
      form->addRow(QString(), editor);
    } else {
      form->addRow(label + QLatin1Char(':'), editor);
    }
  }
  // Hardware: how many processes, which GPUs.
  QFormLayout* hw = forms.value(QStringLiteral("Hardware"));
  processes_ = new QSpinBox(this);
  processes_->setRange(1, 1024);
  processes_->setToolTip(
      QStringLiteral("More than 1 starts the ranks with 'gligen-trainer launch --nproc-per-node N'."));
  hw->addRow(QStringLiteral("Processes:"), processes_);
  port_ = new QSpinBox(this);
  port_->setRange(1, 65535);
  port_->setValue(29500);
  port_->setToolTip(QStringLiteral("Rendezvous port of a multi-process job (MASTER_PORT)."));
  hw->addRow(QStringLiteral("Master port:"), port_);
  gpu_box_ = new QWidget(this);
  auto* gpuLayout = new QHBoxLayout(gpu_box_);
  gpuLayout->setContentsMargins(0, 0, 0, 0);
  gpu_label_ = new QLabel(QStringLiteral("detecting…"), gpu_box_);
  gpuLayout->addWidget(gpu_label_);
  gpuLayout->addStretch(1);
  hw->addRow(QStringLiteral("GPUs:"), gpu_box_);
  connect(processes_, &QSpinBox::valueChanged, this, [this] { readFields(); });
  connect(port_, &QSpinBox::valueChanged, this, [this] { readFields(); });
  layout->addWidget(tabs_, 1);
  layout = outer;  // what follows serves both kinds of job

  warning_ = new QLabel(this);
  warning_->setWordWrap(true);
  warning_->setStyleSheet(QStringLiteral("color: #b07000;"));
  layout->addWidget(warning_);
  problems_ = new QLabel(this);
  problems_->setWordWrap(true);
  problems_->setStyleSheet(QStringLiteral("color: #c0392b;"));
  layout->addWidget(problems_);

  auto* cmdRow = new QHBoxLayout;
  command_ = new QPlainTextEdit(this);
  command_->setReadOnly(true);
  command_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  command_->setFixedHeight(command_->fontMetrics().lineSpacing() * 6 + 12);
  command_->setToolTip(
      QStringLiteral("The exact command this job runs; paste it into a shell on a server to run it there."));
  cmdRow->addWidget(command_, 1);
  copy_ = new QPushButton(QStringLiteral("Copy"), this);
  copy_->setToolTip(QStringLiteral("Copy the command line"));
  connect(copy_, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(commandLine()); });
  cmdRow->addWidget(copy_, 0, Qt::AlignTop);
  layout->addWidget(new QLabel(QStringLiteral("Command line:"), this));
  layout->addLayout(cmdRow);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
  launch_ = buttons->addButton(QStringLiteral("Launch"), QDialogButtonBox::AcceptRole);
  launch_->setDefault(true);
  connect(buttons, &QDialogButtonBox::accepted, this, [this] {
    readFields();
    if (problems().isEmpty()) accept();
  });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);

  connect(preset_, &QComboBox::activated, this, [this](int i) {
    if (i > 0) applyPreset(i - 1);
  });
  resize(780, 700);
  writeFields();
  updateState();
  detectGpus();
}

QWidget* NewTrainingDialog::makeField(const TrainingFlag& f) {
  QWidget* editor = nullptr;
  const QString tip = QStringLiteral("--%1\n%2").arg(f.name, f.help);
  switch (f.kind) {
    case K::Folder:
    case K::File:
    case K::OutFolder: {
      auto* row = new QWidget(this);
      auto* h = new QHBoxLayout(row);
      h->setContentsMargins(0, 0, 0, 0);
      auto* line = new QLineEdit(row);
      line->setPlaceholderText(f.required ? QStringLiteral("required") : QStringLiteral("optional"));
      line->setToolTip(tip);
      h->addWidget(line, 1);
      auto* browse = new QToolButton(row);
      browse->setText(QStringLiteral("…"));
      browse->setToolTip(QStringLiteral("Browse"));
      h->addWidget(browse);
      const K kind = f.kind;
      const QString label = f.label;
      connect(browse, &QToolButton::clicked, this, [this, line, kind, label] {
        const QString start = line->text().isEmpty() ? QDir::homePath() : line->text();
        const QString chosen =
            kind == K::File
                ? QFileDialog::getOpenFileName(
                      this, label, start, QStringLiteral("Records (*.pth *.pt *.json *.sqlite *.db);;All files (*)"))
                : QFileDialog::getExistingDirectory(this, label, start);
        if (!chosen.isEmpty()) line->setText(chosen);
      });
      connect(line, &QLineEdit::textChanged, this, [this] { readFields(); });
      fields_.insert(f.name, line);
      return row;
    }
    case K::Integer:
    case K::Real:
    case K::Text: {
      auto* line = new QLineEdit(this);
      if (!f.fallback.isEmpty())
        line->setPlaceholderText(QStringLiteral("default: ") + f.fallback);
      else if (!f.help.isEmpty() && f.kind == K::Text)
        line->setPlaceholderText(f.help);
      else if (f.optional)
        line->setPlaceholderText(QStringLiteral("not set"));
      line->setToolTip(tip);
      connect(line, &QLineEdit::textChanged, this, [this] { readFields(); });
      editor = line;
      break;
    }
    case K::Choice: {
      auto* combo = new QComboBox(this);
      combo->addItems(f.choices);
      combo->setCurrentText(f.fallback);
      combo->setToolTip(tip);
      connect(combo, &QComboBox::currentTextChanged, this, [this] { readFields(); });
      editor = combo;
      break;
    }
    case K::Switch: {
      auto* box = new QCheckBox(f.label, this);
      box->setToolTip(tip);
      connect(box, &QCheckBox::toggled, this, [this] { readFields(); });
      editor = box;
      break;
    }
    case K::Boxes: {
      auto* text = new QPlainTextEdit(this);
      text->setPlaceholderText(QStringLiteral("a green car: 0.04,0.55,0.45,0.86\n(empty: the seed's four boxes)"));
      text->setToolTip(tip);
      text->setFixedHeight(text->fontMetrics().lineSpacing() * 5 + 12);
      connect(text, &QPlainTextEdit::textChanged, this, [this] { readFields(); });
      editor = text;
      break;
    }
  }
  fields_.insert(f.name, editor);
  return editor;
}

void NewTrainingDialog::readFields() {
  if (writing_) return;
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    QString v;
    if (auto* line = qobject_cast<QLineEdit*>(it.value()))
      v = line->text();
    else if (auto* combo = qobject_cast<QComboBox*>(it.value()))
      v = combo->currentText();
    else if (auto* box = qobject_cast<QCheckBox*>(it.value()))
      v = box->isChecked() ? QStringLiteral("1") : QString();
    else if (auto* text = qobject_cast<QPlainTextEdit*>(it.value()))
      v = text->toPlainText();
    const TrainingFlag* f = findTrainingFlag(it.key());
    // A choice left at the trainer's default is not written out.
    if (f && f->kind == K::Choice && v == f->fallback) v.clear();
    spec_.set(it.key(), v);
  }
  spec_.processes = processes_->value();
  spec_.masterPort = port_->value();
  spec_.gpus.clear();
  for (int i = 0; i < gpu_checks_.size(); ++i)
    if (gpu_checks_[i]->isChecked()) spec_.gpus << QString::number(i);
  updateState();
}

void NewTrainingDialog::writeFields() {
  writing_ = true;
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    const TrainingFlag* f = findTrainingFlag(it.key());
    const QString v = spec_.value(it.key());
    if (auto* line = qobject_cast<QLineEdit*>(it.value()))
      line->setText(v);
    else if (auto* combo = qobject_cast<QComboBox*>(it.value()))
      combo->setCurrentText(v.isEmpty() && f ? f->fallback : v);
    else if (auto* box = qobject_cast<QCheckBox*>(it.value()))
      box->setChecked(spec_.isOn(it.key()));
    else if (auto* text = qobject_cast<QPlainTextEdit*>(it.value()))
      text->setPlainText(v);
  }
  processes_->setValue(spec_.processes);
  port_->setValue(spec_.masterPort);
  for (int i = 0; i < gpu_checks_.size(); ++i) gpu_checks_[i]->setChecked(spec_.gpus.contains(QString::number(i)));
  writing_ = false;
  readFields();
}

void NewTrainingDialog::setSpec(const TrainingJobSpec& spec) {
  setJobKind(JobKind::Training);
  spec_ = spec;
  writeFields();
  preset_->setCurrentIndex(0);
  preset_text_->clear();
}

void NewTrainingDialog::applyPreset(int index) {
  if (index < 0 || index >= presets_.size()) return;
  setSpec(presets_[index].spec);
  preset_->setCurrentIndex(index + 1);
  preset_text_->setText(presets_[index].description);
}

QString NewTrainingDialog::commandLine() const {
  return jobKind() == JobKind::Dataset ? datasetSpec().commandLine(program_) : spec_.commandLine(program_);
}

QStringList NewTrainingDialog::problems() const {
  return jobKind() == JobKind::Dataset ? datasetSpec().problems() : spec_.problems();
}

NewTrainingDialog::JobKind NewTrainingDialog::jobKind() const {
  return kind_->currentIndex() == 1 ? JobKind::Dataset : JobKind::Training;
}

void NewTrainingDialog::setJobKind(JobKind kind) { kind_->setCurrentIndex(kind == JobKind::Dataset ? 1 : 0); }

DatasetJobSpec NewTrainingDialog::datasetSpec() const { return dataset_form_->spec(); }

void NewTrainingDialog::setDatasetSpec(const DatasetJobSpec& spec) {
  dataset_form_->setSpec(spec);
  setJobKind(JobKind::Dataset);
  updateState();
}

void NewTrainingDialog::updateState() {
  if (jobKind() == JobKind::Dataset) {
    const DatasetJobSpec d = datasetSpec();
    const QStringList problems = d.problems();
    problems_->setText(problems.isEmpty() ? QString() : QStringLiteral("• ") + problems.join(QStringLiteral("\n• ")));
    problems_->setVisible(!problems.isEmpty());
    launch_->setEnabled(problems.isEmpty());
    command_->setPlainText(commandLine());
    QStringList warn;
    if (!d.db.trimmed().isEmpty() && QFileInfo(d.db.trimmed()).isFile())
      warn << QStringLiteral("The dataset exists: images already in it are skipped, new ones are added.");
    if (!d.db.trimmed().isEmpty() && QFileInfo::exists(QDir(d.runDirectory()).filePath(QStringLiteral("events.jsonl"))))
      warn << QStringLiteral("The run folder %1 already holds this job's events: its charts continue.")
                  .arg(d.runDirectory());
    warning_->setText(warn.join(QLatin1Char(' ')));
    warning_->setVisible(!warn.isEmpty());
    return;
  }
  const QStringList problems = spec_.problems();
  problems_->setText(problems.isEmpty() ? QString() : QStringLiteral("• ") + problems.join(QStringLiteral("\n• ")));
  problems_->setVisible(!problems.isEmpty());
  launch_->setEnabled(problems.isEmpty());
  command_->setPlainText(commandLine());
  QString warn;
  const QString out = spec_.outputDir().trimmed();
  if (!out.isEmpty() && QFileInfo::exists(QDir(out).filePath(QStringLiteral("events.jsonl")))) {
    warn = spec_.value(QStringLiteral("resume-from-checkpoint")).isEmpty()
               ? QStringLiteral(
                     "The run folder already holds a run: this job starts over in it (its charts continue "
                     "from step 0). Set \"Resume from\" to latest to continue it, or pick a new folder.")
               : QStringLiteral("Continues the run in this folder from its checkpoint.");
  }
  warning_->setText(warn);
  warning_->setVisible(!warn.isEmpty());
}

void NewTrainingDialog::setGpuCount(int count) {
  qDeleteAll(gpu_checks_);
  gpu_checks_.clear();
  auto* h = static_cast<QHBoxLayout*>(gpu_box_->layout());
  gpu_label_->setText(count > 0 ? QString() : QStringLiteral("none detected (CPU only)"));
  gpu_label_->setVisible(count <= 0);
  for (int i = 0; i < count; ++i) {
    auto* c = new QCheckBox(QStringLiteral("cuda:%1").arg(i), gpu_box_);
    c->setToolTip(QStringLiteral("Use this GPU (none ticked: all of them)"));
    connect(c, &QCheckBox::toggled, this, [this] { readFields(); });
    h->insertWidget(h->count() - 1, c);
    gpu_checks_ << c;
  }
  readFields();
}

NewTrainingDialog::~NewTrainingDialog() {
  // The probe must not report into a half-destroyed dialog.
  if (gpu_probe_) {
    gpu_probe_->disconnect(this);
    gpu_probe_->kill();
    gpu_probe_->waitForFinished(2000);
  }
}

void NewTrainingDialog::detectGpus() {
  auto* p = new QProcess(this);
  gpu_probe_ = p;
  connect(p, &QProcess::finished, this, [this, p](int code, QProcess::ExitStatus) {
    const QString out = QString::fromUtf8(p->readAllStandardOutput());
    gpu_probe_ = nullptr;
    p->deleteLater();
    static const QRegularExpression re(QStringLiteral("cuda available, (\\d+) device"));
    const auto m = re.match(out);
    setGpuCount(code == 0 && m.hasMatch() ? m.captured(1).toInt() : 0);
  });
  connect(p, &QProcess::errorOccurred, this, [this, p](QProcess::ProcessError e) {
    if (e == QProcess::FailedToStart) {
      gpu_label_->setText(QStringLiteral("cannot run %1").arg(program_));
      gpu_probe_ = nullptr;
      p->deleteLater();
    }
  });
  p->start(program_, {QStringLiteral("system-info")});
}

}  // namespace gligen::ui
