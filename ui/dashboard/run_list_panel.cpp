#include "ui/dashboard/run_list_panel.h"

#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QVBoxLayout>

namespace gligen::ui {

RunListPanel::RunListPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(new QLabel(QStringLiteral("<b>Runs</b>"), this));
  list_ = new QListWidget(this);
  list_->setSelectionMode(QAbstractItemView::SingleSelection);
  list_->setWordWrap(true);
  list_->setSpacing(2);
  layout->addWidget(list_, 1);
  auto* newJob = new QPushButton(QStringLiteral("New Job…"), this);
  newJob->setToolTip(QStringLiteral("Set up and launch a training job or a dataset job (make-dataset)"));
  auto* attach = new QPushButton(QStringLiteral("Attach Run…"), this);
  attach->setToolTip(QStringLiteral("Follow a run folder started elsewhere (a cluster, a shell)"));
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(newJob);
  buttons->addWidget(attach);
  layout->addLayout(buttons);
  connect(newJob, &QPushButton::clicked, this, &RunListPanel::newJobRequested);
  connect(attach, &QPushButton::clicked, this, &RunListPanel::attachRequested);
  connect(list_, &QListWidget::currentRowChanged, this, &RunListPanel::currentRowChanged);
}

void RunListPanel::appendRow() {
  auto* item = new QListWidgetItem(list_);
  item->setSizeHint(QSize(0, fontMetrics().lineSpacing() * 3));
}

void RunListPanel::removeRow(int index) { delete list_->takeItem(index); }

void RunListPanel::setRow(int index, const QString& name, const QString& state, const QColor& dot,
                          const QString& tooltip, bool datasetJob) {
  QListWidgetItem* item = list_->item(index);
  if (!item) return;
  item->setText(name + QLatin1Char('\n') + state);
  item->setToolTip(tooltip);
  QPixmap pm(10, 10);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setBrush(dot);
  p.setPen(Qt::NoPen);
  if (datasetJob)
    p.drawRect(QRectF(1, 1, 8, 8));
  else
    p.drawEllipse(1, 1, 8, 8);
  item->setIcon(QIcon(pm));
}

int RunListPanel::currentRow() const { return list_->currentRow(); }

void RunListPanel::setCurrentRow(int index) { list_->setCurrentRow(index); }

}  // namespace gligen::ui
