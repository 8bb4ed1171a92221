#include "ui/commands/reorder_box.h"

#include <QCoreApplication>

namespace gligen::ui {

ReorderBox::ReorderBox(LayoutDocument* document, int from, int to, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document), from_(from), to_(to) {
  setText(QCoreApplication::translate("ReorderBox", "Reorder boxes"));
  const int n = document->boxCount();
  if (from < 0 || from >= n || to < 0 || to >= n || from == to) setObsolete(true);
}

void ReorderBox::redo() {
  if (!isObsolete()) document_->moveBox(from_, to_);
}

void ReorderBox::undo() {
  if (!isObsolete()) document_->moveBox(to_, from_);
}

}  // namespace gligen::ui
