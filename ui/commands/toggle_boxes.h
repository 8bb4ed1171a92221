// ToggleBoxes: enables or disables boxes. A disabled box stays in the layout but takes no part
// in generation.
#pragma once
#include <QList>
#include <QUndoCommand>
#include <QVector>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class ToggleBoxes : public QUndoCommand {
 public:
  ToggleBoxes(LayoutDocument* document, const QList<int>& ids, bool enabled, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  QList<int> ids_;
  QVector<bool> old_enabled_;
  bool enabled_;
};

}  // namespace gligen::ui
