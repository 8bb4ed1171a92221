#include "ui/commands/toggle_boxes.h"

#include <QCoreApplication>

namespace gligen::ui {

ToggleBoxes::ToggleBoxes(LayoutDocument* document, const QList<int>& ids, bool enabled, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document), enabled_(enabled) {
  bool changes = false;
  for (int id : ids) {
    const LayoutBox* b = document->boxById(id);
    if (!b) continue;
    ids_.push_back(id);
    old_enabled_.push_back(b->enabled);
    changes = changes || b->enabled != enabled;
  }
  const bool one = ids_.size() == 1;
  setText(enabled ? (one ? QCoreApplication::translate("ToggleBoxes", "Enable box")
                         : QCoreApplication::translate("ToggleBoxes", "Enable %1 boxes").arg(ids_.size()))
                  : (one ? QCoreApplication::translate("ToggleBoxes", "Disable box")
                         : QCoreApplication::translate("ToggleBoxes", "Disable %1 boxes").arg(ids_.size())));
  if (!changes) setObsolete(true);
}

void ToggleBoxes::redo() {
  for (int id : ids_) document_->setBoxEnabled(id, enabled_);
}

void ToggleBoxes::undo() {
  for (int i = 0; i < ids_.size(); ++i) document_->setBoxEnabled(ids_[i], old_enabled_[i]);
}

}  // namespace gligen::ui
