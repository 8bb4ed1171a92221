// RemoveBoxes: deletes boxes; undo puts each back at its old position.
#pragma once
#include <QUndoCommand>
#include <QVector>
#include <utility>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class RemoveBoxes : public QUndoCommand {
 public:
  RemoveBoxes(LayoutDocument* document, const QList<int>& ids, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  QVector<std::pair<int, LayoutBox>> removed_;  // (index, box), in ascending index order
};

}  // namespace gligen::ui
