#include "ui/commands/add_boxes.h"

#include <QCoreApplication>

namespace gligen::ui {

AddBoxes::AddBoxes(LayoutDocument* document, const QVector<LayoutBox>& boxes, int index, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document), boxes_(boxes), index_(index < 0 ? document->boxCount() : index) {
  setText(boxes.size() == 1 ? QCoreApplication::translate("AddBoxes", "Add box")
                            : QCoreApplication::translate("AddBoxes", "Add %1 boxes").arg(boxes.size()));
}

void AddBoxes::redo() {
  QList<int> ids;
  for (int i = 0; i < boxes_.size(); ++i) {
    document_->insertBox(index_ + i, boxes_[i]);
    ids.push_back(boxes_[i].id);
  }
  document_->setSelectedIds(ids);
}

void AddBoxes::undo() {
  for (int i = boxes_.size() - 1; i >= 0; --i) document_->takeBox(document_->indexOfBox(boxes_[i].id));
}

}  // namespace gligen::ui
