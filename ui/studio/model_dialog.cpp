#include "ui/studio/model_dialog.h"

#include <algorithm>

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QScreen>
#include <QScrollArea>
#include <QGuiApplication>
#include <QStandardPaths>
#include <QVBoxLayout>

#include "core/pipeline/model_folder.h"

namespace gligen::ui {

ModelDialog::ModelDialog(const QVector<RecentModel>& recent, QWidget* parent)
    : QDialog(parent),
      recent_(new QListWidget(this)),
      folder_(new QLineEdit(this)),
      unet_(new QLineEdit(this)),
      report_(new QLabel(this)) {
  setWindowTitle(tr("Open Model"));
  folder_->setPlaceholderText(tr("Diffusers folder (model_index.json, unet/, vae/, …)"));
  unet_->setPlaceholderText(tr("Optional: folder with a replacement UNet (config.json + weights)"));
  report_->setWordWrap(true);
  report_->setTextFormat(Qt::RichText);
  report_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  report_->setMinimumHeight(report_->fontMetrics().lineSpacing() * 3);

  auto* recentBox = new QGroupBox(tr("Recent models"), this);
  auto* recentLayout = new QVBoxLayout(recentBox);
  recentLayout->addWidget(recent_);
  for (const RecentModel& m : recent) {
    auto* item = new QListWidgetItem(m.unet.isEmpty() ? m.folder : tr("%1  (UNet: %2)").arg(m.folder, m.unet));
    item->setData(Qt::UserRole, m.folder);
    item->setData(Qt::UserRole + 1, m.unet);
    recent_->addItem(item);
  }
  recentBox->setVisible(!recent.isEmpty());
  recent_->setMaximumHeight(recent_->sizeHintForRow(0) * 5 + 8);

  auto* folderBox = new QGroupBox(tr("Model folder"), this);
  auto* form = new QFormLayout(folderBox);
  auto* folderRow = new QHBoxLayout;
  auto* browseFolder = new QPushButton(tr("Browse…"), this);
  folderRow->addWidget(folder_, 1);
  folderRow->addWidget(browseFolder);
  auto* unetRow = new QHBoxLayout;
  auto* browseUnet = new QPushButton(tr("Browse…"), this);
  unetRow->addWidget(unet_, 1);
  unetRow->addWidget(browseUnet);
  form->addRow(tr("Pipeline"), folderRow);
  form->addRow(tr("UNet override"), unetRow);
  form->addRow(report_);

  auto* getBox = new QGroupBox(tr("No model yet?"), this);
  auto* getLayout = new QVBoxLayout(getBox);
  // The shapes demo model that comes with the program (core/pipeline/model_folder.h).
  const QString shipped = QString::fromStdString(gligen::default_model_dir());
  if (!shipped.isEmpty()) {
    auto* shapesText =
        new QLabel(tr("<p><b>Start with the shapes demo model</b> that comes with GLIGEN Studio (trained from scratch "
                      "by our own trainer): "
                      "it draws circles, squares and triangles in red, green, blue and yellow, "
                      "each where its box is. Draw a box, call it <i>a red circle</i>, draw another, call it "
                      "<i>a blue square</i>, and press Generate.</p>"),
                   this);
    shapesText->setWordWrap(true);
    auto* useShapes = new QPushButton(tr("Use the Shapes Demo Model"), this);
    useShapes->setObjectName(QStringLiteral("useShapesDemo"));
    auto* shapesRow = new QHBoxLayout;
    shapesRow->addWidget(useShapes);
    shapesRow->addStretch();
    getLayout->addWidget(shapesText);
    getLayout->addLayout(shapesRow);
    connect(useShapes, &QPushButton::clicked, this, [this, shipped]() { setFolder(shipped); });
  }
  auto* howTo = new QLabel(
      tr("<p>GLIGEN's text-box model (Stable Diffusion 1.4 with grounding layers, about 5 GB) is published on "
         "Hugging Face. With the <tt>hf</tt> command-line tool:</p>"
         "<p><tt>hf download masterful/gligen-1-4-generation-text-box --local-dir gligen-text-box</tt></p>"
         "<p>then choose the <tt>gligen-text-box</tt> folder above.</p>"
         "<p>A <b>tiny random model</b> (coloured noise, not pictures) is also there for checking the "
         "studio's parts at SD's 512×512 layout.</p>"),
      this);
  howTo->setWordWrap(true);
  howTo->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* demo = new QPushButton(tr("Create Tiny Random Model…"), this);
  auto* demoRow = new QHBoxLayout;
  demoRow->addWidget(demo);
  demoRow->addStretch();
  getLayout->addWidget(howTo);
  getLayout->addLayout(demoRow);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
  load_ = buttons->addButton(tr("Load Model"), QDialogButtonBox::AcceptRole);
  load_->setDefault(true);

  // Everything but the buttons scrolls: a long list of problems or a small screen never cuts
  // text off, and Load / Cancel stay in view.
  auto* content = new QWidget;
  auto* contentLayout = new QVBoxLayout(content);
  contentLayout->setContentsMargins(0, 0, 0, 0);
  contentLayout->addWidget(recentBox);
  contentLayout->addWidget(folderBox);
  contentLayout->addWidget(getBox);
  contentLayout->addStretch();
  scroll_ = new QScrollArea(this);
  scroll_->setObjectName(QStringLiteral("modelDialogScroll"));
  scroll_->setWidgetResizable(true);
  scroll_->setFrameShape(QFrame::NoFrame);
  scroll_->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  scroll_->setWidget(content);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(scroll_, 1);
  layout->addWidget(buttons);

  connect(browseFolder, &QPushButton::clicked, this,
          [this]() { browse(folder_, tr("Choose a diffusers GLIGEN folder")); });
  connect(browseUnet, &QPushButton::clicked, this, [this]() { browse(unet_, tr("Choose a UNet folder")); });
  connect(folder_, &QLineEdit::textChanged, this, &ModelDialog::inspect);
  connect(unet_, &QLineEdit::textChanged, this, &ModelDialog::inspect);
  connect(recent_, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* item) {
    if (item) setFolder(item->data(Qt::UserRole).toString(), item->data(Qt::UserRole + 1).toString());
  });
  connect(recent_, &QListWidget::itemDoubleClicked, this, [this]() {
    if (loadable_) accept();
  });
  connect(demo, &QPushButton::clicked, this, &ModelDialog::askForDemoModel);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  // First run: nothing opened yet, so the shipped model is the suggestion.
  if (recent.isEmpty() && !shipped.isEmpty()) folder_->setText(shipped);
  inspect();
  // As tall as the content wants, within the screen.
  const QScreen* screen = parent ? parent->screen() : QGuiApplication::primaryScreen();
  const int available = screen ? screen->availableGeometry().height() - 80 : 800;
  const int wanted = content->sizeHint().height() + buttons->sizeHint().height() + 40;
  resize(680, std::min(wanted, std::max(available, 300)));
}

RecentModel ModelDialog::chosenModel() const {
  return {QDir::cleanPath(folder_->text().trimmed()),
          unet_->text().trimmed().isEmpty() ? QString() : QDir::cleanPath(unet_->text().trimmed())};
}

void ModelDialog::setFolder(const QString& folder, const QString& unet) {
  folder_->setText(folder);
  unet_->setText(unet);
}

QString ModelDialog::reportText() const { return report_->text(); }

QString ModelDialog::defaultDemoFolder() {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/tiny-demo-model");
}

void ModelDialog::browse(QLineEdit* edit, const QString& title) {
  const QString dir =
      QFileDialog::getExistingDirectory(this, title, edit->text().isEmpty() ? QDir::homePath() : edit->text());
  if (!dir.isEmpty()) edit->setText(dir);
}

namespace {
// Escaped for HTML, with a line-break opportunity (a zero-width space) after every '/': long paths
// wrap inside the dialog instead of running out of it.
QString breakable(const std::string& text) {
  return QString::fromStdString(text).toHtmlEscaped().replace(QLatin1Char('/'), QStringLiteral("/\u200B"));
}
}  // namespace

void ModelDialog::inspect() {
  const RecentModel m = chosenModel();
  if (folder_->text().trimmed().isEmpty()) {
    loadable_ = false;
    report_->setText(tr("<i>Choose a model folder to check it.</i>"));
    load_->setEnabled(false);
    return;
  }
  const gligen::ModelFolderReport r = gligen::inspect_model_folder(m.folder.toStdString(), m.unet.toStdString());
  loadable_ = r.ok();
  QString html;
  if (r.ok()) {
    html += tr("<p style='color:#2e7d32'><b>This folder can be loaded.</b> %1%2 images of %3×%3, scheduler %4.</p>")
                .arg(r.grounded ? tr("GLIGEN text-box model, ") : tr("Model, "))
                .arg(r.inpainting ? tr("inpainting, ") : QString())
                .arg(r.default_size)
                .arg(QString::fromStdString(r.scheduler_class).toHtmlEscaped());
  } else {
    html += tr("<p style='color:#c0392b'><b>This folder cannot be loaded:</b></p><ul>");
    for (const std::string& p : r.problems) html += QStringLiteral("<li>%1</li>").arg(breakable(p));
    html += QStringLiteral("</ul>");
  }
  for (const std::string& n : r.notes) html += QStringLiteral("<p>%1</p>").arg(breakable(n));
  report_->setText(html);
  load_->setEnabled(loadable_);
}

void ModelDialog::askForDemoModel() {
  const QString suggested = defaultDemoFolder();
  const QString parentDir = QFileDialog::getExistingDirectory(
      this, tr("Where should the demo model folder be created?"), QFileInfo(suggested).absolutePath());
  if (parentDir.isEmpty()) return;
  QString folder = parentDir + QStringLiteral("/tiny-demo-model");
  for (int i = 2; QDir(folder).exists() && !QDir(folder).isEmpty(); ++i)
    folder = parentDir + QStringLiteral("/tiny-demo-model-%1").arg(i);
  const auto answer = QMessageBox::question(
      this, tr("Create demo model"),
      tr("Create a tiny GLIGEN model with <b>random weights</b> in<br><tt>%1</tt>?<br><br>It generates noise, "
         "not pictures: it is for trying the studio without downloading weights.")
          .arg(folder.toHtmlEscaped()));
  if (answer != QMessageBox::Yes) return;
  // The main window creates and then loads it; this dialog has nothing more to load.
  Q_EMIT createDemoModelRequested(folder);
  reject();
}

}  // namespace gligen::ui
