#include "ui/dashboard/run_outputs_panel.h"

#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QIcon>
#include <QImageReader>
#include <QListWidget>
#include <QPixmap>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTabWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "ui/dashboard/dataset_image_strip.h"
#include "ui/jobs/run_history.h"
#include "ui/jobs/training_job_runner.h"

namespace gligen::ui {
namespace {

constexpr int kPathRole = Qt::UserRole;
constexpr int kStepRole = Qt::UserRole + 1;

}  // namespace

RunOutputsPanel::RunOutputsPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  tabs_ = new QTabWidget(this);
  layout->addWidget(tabs_);

  images_ = new QListWidget(tabs_);
  images_->setViewMode(QListView::IconMode);
  images_->setFlow(QListView::LeftToRight);
  images_->setWrapping(false);
  images_->setIconSize(QSize(384, 96));
  images_->setResizeMode(QListView::Adjust);
  images_->setMovement(QListView::Static);
  images_->setToolTip(QStringLiteral("Validation images by step; double-click to open one in the studio"));
  connect(images_, &QListWidget::itemDoubleClicked, this,
          [this](QListWidgetItem* item) { Q_EMIT openImage(item->data(kPathRole).toString()); });
  tabs_->addTab(images_, QStringLiteral("Validation images"));

  auto* page = new QWidget(tabs_);
  auto* pageLayout = new QVBoxLayout(page);
  checkpoints_ = new QTreeWidget(page);
  checkpoints_->setHeaderLabels({QStringLiteral("Step"), QStringLiteral("Written"), QStringLiteral("Folder")});
  checkpoints_->setRootIsDecorated(false);
  checkpoints_->header()->setSectionResizeMode(2, QHeaderView::Stretch);
  pageLayout->addWidget(checkpoints_, 1);
  auto* buttons = new QHBoxLayout;
  generate_ = new QPushButton(QStringLiteral("Generate with This Checkpoint"), page);
  generate_->setToolTip(QStringLiteral("Load the run's model with this checkpoint's UNet in the studio"));
  resume_ = new QPushButton(QStringLiteral("Resume from Here"), page);
  resume_->setToolTip(QStringLiteral("Continue training from this checkpoint (later steps are trained again)"));
  buttons->addWidget(generate_);
  buttons->addWidget(resume_);
  buttons->addStretch(1);
  pageLayout->addLayout(buttons);
  connect(generate_, &QPushButton::clicked, this, &RunOutputsPanel::generateRequested);
  connect(resume_, &QPushButton::clicked, this, &RunOutputsPanel::resumeRequested);
  connect(checkpoints_, &QTreeWidget::itemDoubleClicked, this, &RunOutputsPanel::generateRequested);
  connect(checkpoints_, &QTreeWidget::itemSelectionChanged, this, &RunOutputsPanel::checkpointSelectionChanged);
  tabs_->addTab(page, QStringLiteral("Checkpoints"));
  checkpoint_page_ = page;

  log_ = new QPlainTextEdit(tabs_);
  log_->setReadOnly(true);
  log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  log_->setMaximumBlockCount(RunHistory::kLogTailLines + TrainingJobRunner::kTailLines);
  tabs_->addTab(log_, QStringLiteral("Log"));

  dataset_strip_ = new DatasetImageStrip(tabs_);
  tabs_->insertTab(0, dataset_strip_, QStringLiteral("Latest images"));
  tabs_->setTabVisible(0, false);
  tabs_->setCurrentWidget(images_);
}

void RunOutputsPanel::setDatasetMode(bool on) {
  const int strip = tabs_->indexOf(dataset_strip_);
  const bool was = tabs_->isTabVisible(strip);
  tabs_->setTabVisible(tabs_->indexOf(images_), !on);
  tabs_->setTabVisible(tabs_->indexOf(checkpoint_page_), !on);
  tabs_->setTabVisible(strip, on);
  if (on != was) tabs_->setCurrentWidget(on ? static_cast<QWidget*>(dataset_strip_) : images_);
}

void RunOutputsPanel::setDatasetImageCount(qint64 processed) {
  tabs_->setTabText(tabs_->indexOf(dataset_strip_), QStringLiteral("Latest images (%1 processed)").arg(processed));
}

void RunOutputsPanel::clearImages() { images_->clear(); }

void RunOutputsPanel::addImage(qint64 step, const QString& path) {
  QImageReader reader(path);
  const QSize size = reader.size();
  if (size.isValid() && size.height() > 0)
    reader.setScaledSize(size.scaled(QSize(4096, images_->iconSize().height()), Qt::KeepAspectRatio));
  const QImage img = reader.read();
  auto* item = new QListWidgetItem(QStringLiteral("step %1").arg(step), images_);
  item->setData(kPathRole, path);
  item->setToolTip(img.isNull() ? QStringLiteral("%1 (cannot be read: %2)").arg(path, reader.errorString()) : path);
  if (!img.isNull()) item->setIcon(QIcon(QPixmap::fromImage(img)));
  if (!img.isNull() && img.width() > images_->iconSize().width())
    images_->setIconSize(QSize(img.width(), images_->iconSize().height()));
  images_->scrollToItem(item);
}

void RunOutputsPanel::setImageCount(int count) {
  tabs_->setTabText(tabs_->indexOf(images_), QStringLiteral("Validation images (%1)").arg(count));
}

void RunOutputsPanel::setCheckpoints(const QVector<CheckpointRow>& rows) {
  const QString selected = selectedCheckpointPath();
  checkpoints_->clear();
  QList<QTreeWidgetItem*> items;
  for (const CheckpointRow& row : rows) {
    const QString when =
        row.written.toString(row.step < 0 ? QStringLiteral("yyyy-MM-dd HH:mm") : QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    auto* item = new QTreeWidgetItem({row.label, when, row.path});
    item->setData(0, kPathRole, row.path);
    item->setData(0, kStepRole, row.step);
    if (!row.tooltip.isEmpty()) item->setToolTip(0, row.tooltip);
    items << item;
  }
  checkpoints_->addTopLevelItems(items);
  for (QTreeWidgetItem* item : items)
    if (item->data(0, kPathRole).toString() == selected) checkpoints_->setCurrentItem(item);
  if (!checkpoints_->currentItem() && !items.isEmpty()) checkpoints_->setCurrentItem(items.first());
  checkpoints_->resizeColumnToContents(0);
  checkpoints_->resizeColumnToContents(1);
  tabs_->setTabText(tabs_->indexOf(checkpoint_page_), QStringLiteral("Checkpoints (%1)").arg(items.size()));
}

bool RunOutputsPanel::hasSelectedCheckpoint() const { return checkpoints_->currentItem() != nullptr; }

QString RunOutputsPanel::selectedCheckpointPath() const {
  return checkpoints_->currentItem() ? checkpoints_->currentItem()->data(0, kPathRole).toString() : QString();
}

qint64 RunOutputsPanel::selectedCheckpointStep() const {
  return checkpoints_->currentItem() ? checkpoints_->currentItem()->data(0, kStepRole).toLongLong() : -1;
}

void RunOutputsPanel::setCheckpointActions(bool canGenerate, bool canResume) {
  generate_->setEnabled(canGenerate);
  resume_->setEnabled(canResume);
}

void RunOutputsPanel::setLogText(const QString& text) {
  if (text == log_->toPlainText()) return;
  QScrollBar* bar = log_->verticalScrollBar();
  const bool atEnd = bar->value() >= bar->maximum() - 2;
  log_->setPlainText(text);
  if (atEnd) bar->setValue(bar->maximum());
}

}  // namespace gligen::ui
