#include "ui/commands/remove_boxes.h"

#include <QCoreApplication>
#include <algorithm>

namespace gligen::ui {

RemoveBoxes::RemoveBoxes(LayoutDocument* document, const QList<int>& ids, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document) {
  for (int id : ids) {
    const int i = document->indexOfBox(id);
    if (i >= 0) removed_.push_back({i, document->boxes()[i]});
  }
  std::sort(removed_.begin(), removed_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  setText(removed_.size() == 1 ? QCoreApplication::translate("RemoveBoxes", "Delete box")
                               : QCoreApplication::translate("RemoveBoxes", "Delete %1 boxes").arg(removed_.size()));
  if (removed_.isEmpty()) setObsolete(true);
}

void RemoveBoxes::redo() {
  for (int i = removed_.size() - 1; i >= 0; --i) document_->takeBox(removed_[i].first);
}

void RemoveBoxes::undo() {
  QList<int> ids;
  for (const auto& [index, box] : removed_) {
    document_->insertBox(index, box);
    ids.push_back(box.id);
  }
  document_->setSelectedIds(ids);
}

}  // namespace gligen::ui
