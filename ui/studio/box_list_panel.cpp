#include "ui/studio/box_list_panel.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

#include "ui/studio/box_list_model.h"
#include "ui/studio/layout_document.h"
#include "ui/commands/remove_boxes.h"
#include "ui/commands/reorder_box.h"

namespace gligen::ui {

namespace {

// The beta column's editor: 0-1 in steps of 0.05, and below 0 the special value "layout" (no
// beta of the box's own).
class BetaDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const override {
    auto* spin = new QDoubleSpinBox(parent);
    spin->setRange(-0.05, 1.0);
    spin->setSingleStep(0.05);
    spin->setDecimals(2);
    spin->setSpecialValueText(tr("layout"));
    spin->setToolTip(
        tr("How long this box's grounding stays on, as a fraction of the steps (0: not grounded). "
           "Step below 0 for \"layout\": the Generation panel's beta."));
    return spin;
  }
  void setEditorData(QWidget* editor, const QModelIndex& index) const override {
    const double v = index.data(Qt::EditRole).toDouble();
    static_cast<QDoubleSpinBox*>(editor)->setValue(v < 0 ? -0.05 : v);
  }
  void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override {
    auto* spin = static_cast<QDoubleSpinBox*>(editor);
    spin->interpretText();
    const double v = spin->value();
    model->setData(index, v < 0 ? BoxListModel::kLayoutBeta : v, Qt::EditRole);
  }
};

}  // namespace

BoxListPanel::BoxListPanel(LayoutDocument* document, QWidget* parent)
    : QWidget(parent),
      document_(document),
      model_(new BoxListModel(document, this)),
      view_(new QTableView(this)),
      count_(new QLabel(this)),
      up_(new QToolButton(this)),
      down_(new QToolButton(this)),
      delete_(new QToolButton(this)) {
  view_->setModel(model_);
  view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  view_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                         QAbstractItemView::SelectedClicked);
  view_->setDragDropMode(QAbstractItemView::InternalMove);
  view_->setDragEnabled(true);
  view_->setAcceptDrops(true);
  view_->setDropIndicatorShown(true);
  view_->setShowGrid(false);
  view_->setAlternatingRowColors(true);
  view_->setWordWrap(false);
  view_->horizontalHeader()->setSectionResizeMode(BoxListModel::kEnabledColumn, QHeaderView::ResizeToContents);
  view_->horizontalHeader()->setSectionResizeMode(BoxListModel::kPhraseColumn, QHeaderView::Stretch);
  view_->horizontalHeader()->setSectionResizeMode(BoxListModel::kBetaColumn, QHeaderView::ResizeToContents);
  view_->horizontalHeader()->setSectionResizeMode(BoxListModel::kRectColumn, QHeaderView::ResizeToContents);
  view_->setItemDelegateForColumn(BoxListModel::kBetaColumn, new BetaDelegate(view_));
  view_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  view_->verticalHeader()->setDefaultAlignment(Qt::AlignCenter);

  up_->setArrowType(Qt::UpArrow);
  up_->setToolTip(tr("Move the selected box up (earlier boxes come first)"));
  down_->setArrowType(Qt::DownArrow);
  down_->setToolTip(tr("Move the selected box down"));
  delete_->setIcon(QIcon::fromTheme(QStringLiteral("edit-delete")));
  delete_->setText(tr("Delete"));
  delete_->setToolButtonStyle(Qt::ToolButtonTextOnly);
  delete_->setToolTip(tr("Delete the selected boxes (Delete)"));
  count_->setWordWrap(true);

  auto* title = new QLabel(tr("<b>Boxes</b>"), this);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(up_);
  buttons->addWidget(down_);
  buttons->addStretch();
  buttons->addWidget(delete_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(title);
  layout->addWidget(view_, 1);
  layout->addWidget(count_);
  layout->addLayout(buttons);

  connect(up_, &QToolButton::clicked, this, [this]() { moveSelected(-1); });
  connect(down_, &QToolButton::clicked, this, [this]() { moveSelected(1); });
  connect(delete_, &QToolButton::clicked, this, [this]() {
    if (!document_->selectedIds().isEmpty())
      document_->undoStack()->push(new RemoveBoxes(document_, document_->selectedIds()));
  });
  connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
          &BoxListPanel::syncSelectionToDocument);
  connect(model_, &QAbstractItemModel::modelReset, this, &BoxListPanel::syncSelectionFromDocument);
  connect(document_, &LayoutDocument::selectionChanged, this, &BoxListPanel::syncSelectionFromDocument);
  connect(document_, &LayoutDocument::boxesChanged, this, &BoxListPanel::syncCount);
  connect(document_, &LayoutDocument::boxChanged, this, &BoxListPanel::syncCount);
  syncCount();
  syncSelectionFromDocument();
}

void BoxListPanel::editPhrase(int boxId) {
  const int row = document_->indexOfBox(boxId);
  if (row < 0) return;
  const QModelIndex index = model_->index(row, BoxListModel::kPhraseColumn);
  view_->setCurrentIndex(index);
  view_->edit(index);
}

void BoxListPanel::syncSelectionFromDocument() {
  syncing_ = true;
  QItemSelection selection;
  for (int id : document_->selectedIds()) {
    const int row = document_->indexOfBox(id);
    if (row >= 0) selection.select(model_->index(row, 0), model_->index(row, BoxListModel::kColumnCount - 1));
  }
  view_->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect);
  if (!document_->selectedIds().isEmpty()) {
    const int row = document_->indexOfBox(document_->selectedIds().back());
    if (row >= 0) view_->scrollTo(model_->index(row, BoxListModel::kPhraseColumn));
  }
  const bool one = document_->selectedIds().size() == 1;
  up_->setEnabled(one);
  down_->setEnabled(one);
  delete_->setEnabled(!document_->selectedIds().isEmpty());
  syncing_ = false;
}

void BoxListPanel::syncSelectionToDocument() {
  if (syncing_) return;
  QList<int> ids;
  for (const QModelIndex& index : view_->selectionModel()->selectedRows())
    ids.push_back(document_->boxes()[index.row()].id);
  document_->setSelectedIds(ids);
}

void BoxListPanel::syncCount() {
  const int n = document_->boxCount(), max = LayoutDocument::maxBoxes();
  if (n == 0) {
    count_->setText(tr("Drag on the canvas to draw a box, then type what it should contain."));
    count_->setStyleSheet(QString());
  } else if (n > max) {
    count_->setText(tr("%1 boxes: GLIGEN takes at most %2, so boxes after the %2th are ignored. "
                       "Delete %3 or disable them.")
                        .arg(n)
                        .arg(max)
                        .arg(n - max));
    count_->setStyleSheet(QStringLiteral("color: #c0392b; font-weight: bold;"));
  } else {
    count_->setText(tr("%1 of %2 boxes (%3 enabled)").arg(n).arg(max).arg(document_->enabledBoxCount()));
    count_->setStyleSheet(QString());
  }
}

void BoxListPanel::moveSelected(int delta) {
  if (document_->selectedIds().size() != 1) return;
  const int from = document_->indexOfBox(document_->selectedIds().front());
  const int to = from + delta;
  if (from < 0 || to < 0 || to >= document_->boxCount()) return;
  document_->undoStack()->push(new ReorderBox(document_, from, to));
}

}  // namespace gligen::ui
