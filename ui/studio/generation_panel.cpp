#include "ui/studio/generation_panel.h"

#include <algorithm>
#include <limits>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QRegularExpressionValidator>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QUndoStack>
#include <QScrollArea>
#include <QVBoxLayout>

#include "core/pipeline/layout.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/generation_job.h"
#include "ui/studio/layout_document.h"

namespace gligen::ui {

namespace {
struct SizePreset {
  int w, h;
};
const SizePreset kSizePresets[] = {{512, 512}, {512, 768}, {768, 512}};
constexpr int kCustomSize = -2;
}  // namespace

GenerationPanel::GenerationPanel(LayoutDocument* document, QWidget* parent)
    : QWidget(parent),
      document_(document),
      model_label_(new QLabel(this)),
      open_model_(new QPushButton(tr("Open Model…"), this)),
      prompt_(new QPlainTextEdit(this)),
      negative_(new QLineEdit(this)),
      size_(new QComboBox(this)),
      steps_(new QSpinBox(this)),
      guidance_(new QDoubleSpinBox(this)),
      beta_(new QDoubleSpinBox(this)),
      scheduler_(new QComboBox(this)),
      seed_mode_(new QComboBox(this)),
      seed_(new QLineEdit(this)),
      batch_(new QSpinBox(this)),
      device_(new QComboBox(this)),
      precision_(new QComboBox(this)),
      generate_(new QPushButton(tr("Generate"), this)),
      cancel_(new QPushButton(tr("Cancel"), this)),
      progress_(new QProgressBar(this)),
      status_(new QLabel(this)) {
  model_label_->setWordWrap(true);
  model_label_->setTextFormat(Qt::RichText);
  prompt_->setPlaceholderText(tr("Describe the whole image, e.g. \"a photo of a park in autumn\""));
  prompt_->setTabChangesFocus(true);
  prompt_->setFixedHeight(prompt_->fontMetrics().lineSpacing() * 4 + 10);
  negative_->setPlaceholderText(tr("What to avoid (optional)"));
  negative_->setClearButtonEnabled(true);
  steps_->setRange(1, 1000);
  steps_->setToolTip(tr("Denoising steps: more is slower and usually cleaner"));
  // The ranges are the layout file's (validate_layout), so a layout never shows other values
  // than it holds.
  guidance_->setRange(0.0, 100.0);
  guidance_->setSingleStep(0.5);
  guidance_->setDecimals(1);
  guidance_->setToolTip(tr("Classifier-free guidance: how strongly the prompt is followed (1 turns it off)"));
  // Below 0: "Model default", the model's own beta (shown once a model names one), else 0.3.
  beta_->setRange(-0.05, 1.0);
  beta_->setSingleStep(0.05);
  beta_->setDecimals(2);
  beta_->setToolTip(
      tr("Grounding fraction: the boxes steer the first β of the steps; the rest refine freely. "
         "Step below 0 for the model's own default."));
  for (const std::string& name : gligen::scheduler_names())
    scheduler_->addItem(QString::fromStdString(name), QString::fromStdString(name));
  scheduler_->insertItem(0, tr("Model default"), QString());
  seed_mode_->addItem(tr("Fixed"), int(SeedMode::Fixed));
  seed_mode_->addItem(tr("Random"), int(SeedMode::Random));
  seed_mode_->addItem(tr("Increment"), int(SeedMode::Increment));
  seed_mode_->setToolTip(
      tr("Fixed: same seed every time. Random: a new seed each time. "
         "Increment: add the batch size after each generation."));
  // Seeds are 64-bit (random ones use 53 bits): a spin box (int) could not show them.
  seed_->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{1,20}")), seed_));
  seed_->setPlaceholderText(tr("seed"));
  batch_->setRange(1, 64);
  batch_->setToolTip(tr("Images per generation (they share one seed)"));
  fillSizeCombo();
  generate_->setDefault(true);
  generate_->setMinimumHeight(generate_->sizeHint().height() * 3 / 2);
  QFont bold = generate_->font();
  bold.setBold(true);
  generate_->setFont(bold);
  generate_->setToolTip(tr("Generate images from this layout (Ctrl+Return)"));
  cancel_->setEnabled(false);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setTextVisible(true);
  progress_->setFormat(tr("Idle"));
  status_->setWordWrap(true);

  auto* modelBox = new QGroupBox(tr("Model"), this);
  auto* modelLayout = new QVBoxLayout(modelBox);
  modelLayout->addWidget(model_label_);
  auto* modelRow = new QHBoxLayout;
  modelRow->addWidget(open_model_);
  modelRow->addStretch();
  modelLayout->addLayout(modelRow);

  auto* promptBox = new QGroupBox(tr("Prompt"), this);
  auto* promptLayout = new QVBoxLayout(promptBox);
  promptLayout->addWidget(prompt_);
  promptLayout->addWidget(negative_);

  auto* settingsBox = new QGroupBox(tr("Settings"), this);
  auto* form = new QFormLayout(settingsBox);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  form->addRow(tr("Size"), size_);
  form->addRow(tr("Steps"), steps_);
  form->addRow(tr("Guidance"), guidance_);
  form->addRow(tr("Grounding β"), beta_);
  form->addRow(tr("Scheduler"), scheduler_);
  auto* seedRow = new QHBoxLayout;
  seedRow->addWidget(seed_mode_);
  seedRow->addWidget(seed_, 1);
  form->addRow(tr("Seed"), seedRow);
  form->addRow(tr("Batch"), batch_);
  auto* deviceRow = new QHBoxLayout;
  deviceRow->addWidget(device_, 1);
  deviceRow->addWidget(precision_, 1);
  form->addRow(tr("Device"), deviceRow);

  auto* runRow = new QHBoxLayout;
  runRow->addWidget(generate_, 1);
  runRow->addWidget(cancel_);

  // The fields scroll when the window is short; Generate, Cancel, the progress and the status
  // stay pinned below them, always in view.
  auto* fields = new QWidget(this);
  auto* fieldsLayout = new QVBoxLayout(fields);
  fieldsLayout->setContentsMargins(0, 0, 0, 0);
  fieldsLayout->addWidget(modelBox);
  fieldsLayout->addWidget(promptBox);
  fieldsLayout->addWidget(settingsBox);
  fieldsLayout->addStretch(1);
  auto* scroll = new QScrollArea(this);
  scroll->setObjectName(QStringLiteral("GenerationFieldsScroll"));
  scroll->setWidget(fields);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setMinimumWidth(fields->minimumSizeHint().width() + 16);
  scroll->setMinimumHeight(80);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(scroll, 1);
  layout->addLayout(runRow);
  layout->addWidget(progress_);
  layout->addWidget(status_);

  connect(open_model_, &QPushButton::clicked, this, &GenerationPanel::openModelRequested);
  connect(generate_, &QPushButton::clicked, this, &GenerationPanel::generateRequested);
  connect(cancel_, &QPushButton::clicked, this, &GenerationPanel::cancelRequested);
  connect(prompt_, &QPlainTextEdit::textChanged, this, [this]() {
    GenerationSettings s = document_->settings();
    s.prompt = prompt_->toPlainText();
    pushSettings(s, tr("Edit prompt"), kPrompt);
  });
  connect(negative_, &QLineEdit::textEdited, this, [this](const QString& text) {
    GenerationSettings s = document_->settings();
    s.negativePrompt = text;
    pushSettings(s, tr("Edit negative prompt"), kNegative);
  });
  connect(steps_, &QSpinBox::valueChanged, this, [this](int v) {
    GenerationSettings s = document_->settings();
    s.steps = v;
    pushSettings(s, tr("Change steps"), kSteps);
  });
  connect(guidance_, &QDoubleSpinBox::valueChanged, this, [this](double v) {
    GenerationSettings s = document_->settings();
    s.guidance = v;
    pushSettings(s, tr("Change guidance"), kGuidance);
  });
  connect(beta_, &QDoubleSpinBox::valueChanged, this, [this](double v) {
    GenerationSettings s = document_->settings();
    if (v < 0 && s.beta < 0) return;  // still the model's default
    s.beta = v < 0 ? -1.0 : v;
    pushSettings(s, tr("Change grounding β"), kBeta);
  });
  connect(scheduler_, &QComboBox::currentIndexChanged, this, [this](int) {
    GenerationSettings s = document_->settings();
    s.scheduler = scheduler_->currentData().toString();
    pushSettings(s, tr("Change scheduler"), kScheduler);
  });
  connect(seed_, &QLineEdit::textEdited, this, [this](const QString& text) {
    bool ok = false;
    const quint64 v = text.toULongLong(&ok);
    if (!ok) {
      if (!text.isEmpty()) {
        const auto kept = document_->settings().seed;
        setStatus(tr("Seeds go up to %1; the seed stays %2.")
                      .arg(std::numeric_limits<quint64>::max())
                      .arg(kept ? QString::number(*kept) : tr("random")));
      }
      return;
    }
    GenerationSettings s = document_->settings();
    s.seed = v;
    pushSettings(s, tr("Change seed"), kSeed);
  });
  connect(seed_mode_, &QComboBox::currentIndexChanged, this,
          [this](int) { seed_->setEnabled(seedMode() != SeedMode::Random); });
  connect(batch_, &QSpinBox::valueChanged, this, [this](int v) {
    GenerationSettings s = document_->settings();
    s.batch = v;
    pushSettings(s, tr("Change batch"), kBatch);
  });
  connect(size_, &QComboBox::activated, this, &GenerationPanel::applySizeChoice);
  connect(device_, &QComboBox::activated, this, [this](int) {
    const QString keep = precision();
    {
      const QSignalBlocker block(precision_);
      precision_->clear();
      precision_->addItems(GenerationJob::precisionsFor(device()));
      precision_->setCurrentText(keep);
    }
    Q_EMIT deviceChanged(device(), precision());
  });
  connect(precision_, &QComboBox::activated, this, [this](int) { Q_EMIT deviceChanged(device(), precision()); });
  connect(document_, &LayoutDocument::settingsChanged, this, &GenerationPanel::syncFromDocument);
  setModelDescription(QString(), false);
  syncFromDocument();
}

void GenerationPanel::pushSettings(const GenerationSettings& settings, const QString& text, int field) {
  if (syncing_ || settings == document_->settings()) return;
  document_->undoStack()->push(new ChangeSettings(document_, settings, text, field));
}

void GenerationPanel::fillSizeCombo() {
  const QSignalBlocker block(size_);
  size_->clear();
  size_->addItem(tr("Model default (%1×%2)").arg(model_size_.width()).arg(model_size_.height()), QSize(0, 0));
  for (const SizePreset& p : kSizePresets) size_->addItem(QStringLiteral("%1×%2").arg(p.w).arg(p.h), QSize(p.w, p.h));
  size_->addItem(tr("Custom…"), kCustomSize);
}

void GenerationPanel::applySizeChoice(int index) {
  GenerationSettings s = document_->settings();
  const QVariant v = size_->itemData(index);
  if (v.typeId() == QMetaType::Int && v.toInt() == kCustomSize) {
    // Sizes must be multiples of 8 (one latent cell per 8x8 pixels).
    bool ok = false;
    const int w0 = s.width > 0 ? s.width : model_size_.width(), h0 = s.height > 0 ? s.height : model_size_.height();
    const int w =
        QInputDialog::getInt(this, tr("Custom size"), tr("Width (pixels, a multiple of 8):"), w0, 8, 4096, 8, &ok);
    if (!ok) return syncFromDocument();
    const int h =
        QInputDialog::getInt(this, tr("Custom size"), tr("Height (pixels, a multiple of 8):"), h0, 8, 4096, 8, &ok);
    if (!ok) return syncFromDocument();
    setCustomSize(w, h);
    return;
  } else {
    const QSize size = v.toSize();
    s.width = size.width();
    s.height = size.height();
  }
  pushSettings(s, tr("Change canvas size"), kSize);
  syncFromDocument();
}

void GenerationPanel::setCustomSize(int width, int height) {
  GenerationSettings s = document_->settings();
  s.width = std::min(4096, (width + 7) / 8 * 8);
  s.height = std::min(4096, (height + 7) / 8 * 8);
  if (s.width != width || s.height != height) {
    // Say what changed rather than change it quietly.
    setStatus(tr("%1×%2 is not a multiple of 8 (one latent cell is 8×8 pixels): the size is %3×%4.")
                  .arg(width)
                  .arg(height)
                  .arg(s.width)
                  .arg(s.height));
  }
  pushSettings(s, tr("Change canvas size"), kSize);
  syncFromDocument();
}

void GenerationPanel::syncFromDocument() {
  syncing_ = true;
  const GenerationSettings& s = document_->settings();
  if (prompt_->toPlainText() != s.prompt) prompt_->setPlainText(s.prompt);
  if (negative_->text() != s.negativePrompt) negative_->setText(s.negativePrompt);
  steps_->setValue(s.steps);
  guidance_->setValue(s.guidance);
  beta_->setSpecialValueText(document_->modelDefaultBeta()
                                 ? tr("Model default (%1)").arg(*document_->modelDefaultBeta(), 0, 'f', 2)
                                 : tr("Model default (%1)").arg(gligen::kDefaultBeta, 0, 'f', 2));
  beta_->setValue(s.beta < 0 ? beta_->minimum() : s.beta);
  int sched = scheduler_->findData(s.scheduler);
  if (sched < 0) sched = 0;
  scheduler_->setCurrentIndex(sched);
  const QString seedText = s.seed ? QString::number(*s.seed) : QString();
  if (seed_->text() != seedText) seed_->setText(seedText);
  batch_->setValue(s.batch);
  int sizeIndex = size_->findData(QSize(s.width, s.height));
  if (sizeIndex < 0) {
    // A size from a file or the custom dialog: show it as its own entry.
    size_->insertItem(size_->count() - 1, QStringLiteral("%1×%2").arg(s.width).arg(s.height), QSize(s.width, s.height));
    sizeIndex = size_->findData(QSize(s.width, s.height));
  }
  size_->setCurrentIndex(sizeIndex);
  syncing_ = false;
}

SeedMode GenerationPanel::seedMode() const { return SeedMode(seed_mode_->currentData().toInt()); }

void GenerationPanel::setSeedMode(SeedMode mode) { seed_mode_->setCurrentIndex(seed_mode_->findData(int(mode))); }

QString GenerationPanel::device() const { return device_->currentText(); }
QString GenerationPanel::precision() const { return precision_->currentText(); }

void GenerationPanel::setDevices(const QStringList& devices, const QString& current, const QString& precision) {
  const QSignalBlocker b1(device_), b2(precision_);
  device_->clear();
  device_->addItems(devices);
  device_->setCurrentText(devices.contains(current) ? current : devices.value(0));
  precision_->clear();
  precision_->addItems(GenerationJob::precisionsFor(device()));
  precision_->setCurrentText(precision);
  device_->setToolTip(devices.size() == 1 ? tr("No CUDA device found: generation runs on the CPU") : QString());
}

QString GenerationPanel::modelDescription() const { return model_label_->text(); }

void GenerationPanel::setModelDescription(const QString& html, bool loaded) {
  model_loaded_ = loaded;
  model_label_->setText(loaded ? html
                               : tr("No model loaded. Open a diffusers GLIGEN folder, or create a small "
                                    "demo model to try the studio."));
  open_model_->setText(loaded ? tr("Change Model…") : tr("Open Model…"));
  generate_->setEnabled(loaded && !cancel_->isEnabled());
}

void GenerationPanel::setModelDefaults(QSize size, const QString& scheduler) {
  if (!size.isEmpty()) model_size_ = size;
  fillSizeCombo();
  scheduler_->setItemText(0, scheduler.isEmpty() ? tr("Model default") : tr("Model default (%1)").arg(scheduler));
  syncFromDocument();
}

void GenerationPanel::setGenerating(bool generating) {
  generate_->setEnabled(!generating && model_loaded_);
  cancel_->setEnabled(generating);
  open_model_->setEnabled(!generating);
  device_->setEnabled(!generating);
  precision_->setEnabled(!generating);
  if (generating) {
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(tr("Starting…"));
  }
}

void GenerationPanel::setProgress(int done, int total) {
  progress_->setRange(0, std::max(total, 1));
  progress_->setValue(done);
  progress_->setFormat(tr("Step %v of %m"));
}

void GenerationPanel::setStatus(const QString& text) { status_->setText(text); }

}  // namespace gligen::ui
