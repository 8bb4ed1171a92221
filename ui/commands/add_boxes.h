// AddBoxes: inserts new boxes (drawn, duplicated or pasted) and selects them.
#pragma once
#include <QUndoCommand>
#include <QVector>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class AddBoxes : public QUndoCommand {
 public:
  // `boxes` carry ids from document->allocateBoxId(); `index` -1 appends.
  AddBoxes(LayoutDocument* document, const QVector<LayoutBox>& boxes, int index = -1, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  QVector<LayoutBox> boxes_;
  int index_;
};

}  // namespace gligen::ui
