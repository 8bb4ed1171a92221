// ReorderBox: moves one box to another position in the list. Order matters: the pipeline keeps
// the first 30 enabled boxes, and phrases are encoded in order.
#pragma once
#include <QUndoCommand>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class ReorderBox : public QUndoCommand {
 public:
  ReorderBox(LayoutDocument* document, int from, int to, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  int from_, to_;
};

}  // namespace gligen::ui
